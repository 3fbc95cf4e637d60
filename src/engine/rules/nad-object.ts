// PLACEHOLDER: to be written (rule family 'ovn-provider').
import type { ValidationRule } from '../rule.js';

export const nadObjectRules: ValidationRule = {
  ids: ['ovn-provider'],
  kinds: ['NetworkAttachmentDefinition'],
  validate() {},
};
