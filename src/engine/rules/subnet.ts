// PLACEHOLDER: to be written (rule family 'subnet-shape').
import type { ValidationRule } from '../rule.js';

export const subnetShapeRule: ValidationRule = {
  ids: ['subnet-shape'],
  kinds: ['Subnet'],
  validate() {},
};
