// PLACEHOLDER: to be written (rule family 'nad-exists', 'nad-binding-match', 'ovn-provider', 'ovn-subnet').
import type { ValidationRule } from '../rule.js';

export const networkSourceRules: ValidationRule = {
  ids: ['nad-exists', 'nad-binding-match', 'ovn-provider', 'ovn-subnet'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate() {},
};
