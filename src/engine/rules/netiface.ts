// PLACEHOLDER: to be written (rule family 'network-pairing').
import type { ValidationRule } from '../rule.js';

export const networkPairingRule: ValidationRule = {
  ids: ['network-pairing'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate() {},
};
