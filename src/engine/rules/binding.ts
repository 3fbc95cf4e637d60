// PLACEHOLDER: to be written (rule family 'hotplug-binding', 'hotplug-model', 'absent-scope').
import type { ValidationRule } from '../rule.js';

export const bindingRules: ValidationRule = {
  ids: ['hotplug-binding', 'hotplug-model', 'absent-scope'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate() {},
};
