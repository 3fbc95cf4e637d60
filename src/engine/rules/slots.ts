// PLACEHOLDER: to be written (rule family 'hotplug-slots', 'pci-bus').
import type { ValidationRule } from '../rule.js';
import type { PolicyConfig, SlotModel } from '../types.js';
import type { VmView } from '../vm.js';

/** The hotplug and PCI budget of a VM, for the slots rules and `nicguard explain`. */
export interface SlotBudget {
  model: SlotModel;
  /** Interfaces in the domain when it was last defined. */
  base: number;
  /** Spare PCIe root ports reserved for hotplug. */
  reserved: number;
  /** Hotplugged since the base and still attached (before this change). */
  inUse: number;
  /** Hotplugged by this change. */
  asked: number;
  free: number;
  pciUsed: number;
  pciLimit: number;
}

/** PLACEHOLDER signature: oldVm is the VM as last defined (undefined: vm itself is the base). */
export function slotBudget(vm: VmView, oldVm: VmView | undefined, config: PolicyConfig): SlotBudget {
  const base = (oldVm ?? vm).interfaces.length;
  return { model: config.slotModel, base, reserved: 0, inUse: 0, asked: 0, free: 0, pciUsed: 0, pciLimit: config.pciSlotLimit };
}

export const slotRules: ValidationRule = {
  ids: ['hotplug-slots', 'pci-bus'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate() {},
};
