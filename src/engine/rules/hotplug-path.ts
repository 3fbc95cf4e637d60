// PLACEHOLDER: to be written (rule family 'hotplug-path').
import type { ValidationRule } from '../rule.js';

export const hotplugPathRule: ValidationRule = {
  ids: ['hotplug-path'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate() {},
};
