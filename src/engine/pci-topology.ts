// The guest's PCI layout as KubeVirt builds it: which devices sit on the root bus and how
// many spare PCIe root ports are reserved for hotplug. Shared by the slot rules and
// `nicguard explain`.
//
// KubeVirt lays the domain out once, when it defines it (VMI start, or the target of a
// live migration), and libvirt cannot add PCIe root ports to a running domain; so a
// hotplugged NIC needs one of the empty root ports reserved then
// (kubevirt/kubevirt pkg/virt-launcher/virtwrap/manager.go `allocateHotplugPorts`,
// network/nichotplug.go, docs/pci-topology.md). Ports that held a device at boot are
// marked hotplug="off" (pci/hotplug.go), so unplugging a boot NIC frees none.
import type { KubeObject, PolicyConfig, SlotModel } from './types.js';
import { parseQuantity } from './quantity.js';
import { isAbsent, type InterfaceView, type VmView } from './vm.js';
import { asArray, asObject, dig, isObject, quote } from './values.js';

/** Frozen total of placeholders plus boot interfaces (KubeVirt `PciInterfaceSlotCountAnnotation`). */
export const SLOT_COUNT_ANNOTATION = 'kubevirt.io/pci-interface-slot-count';
/** Places every device on the root complex, where nothing can be hotplugged. */
export const ROOT_COMPLEX_ANNOTATION = 'kubevirt.io/placePCIDevicesOnRootComplex';
/** Root-bus slots 0, 1 (VGA), 0x1b (ich9 sound) and 0x1f (SATA) (converter/pci-placement.go). */
export const RESERVED_ROOT_SLOTS = 4;

/** manager.go: hotplugLargeMemoryThreshold and the two port counts of the memory-scaled formula. */
export const LARGE_MEMORY_BYTES = 2 * 1024 ** 3;
export const V2_PORTS = { large: { total: 16, min: 6 }, small: { total: 8, min: 3 } };

/** The slot-count annotation as KubeVirt's strconv.Atoi reads it; undefined where it refuses the value. */
export function parseSlotCount(raw: string): number | undefined {
  return /^[+-]?\d{1,18}$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
}

/** Bindings KubeVirt's VM controller hotplugs into a running VMI (pkg/network/controllers/vm.go). */
const HOTPLUGGED_BINDINGS = new Set(['bridge', 'sriov']);

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
  /** Reserved ports not in use, before this change. */
  free: number;
  /** Root-bus slots taken: devices plus the reserved hotplug ports. */
  pciUsed: number;
  /** Root-bus slots there are for them: config.pciSlotLimit less the 4 reserved slots. */
  pciLimit: number;
  /** T of the v1 formula and where it came from. */
  slotTotal: number;
  slotTotalSource: 'annotation' | 'config';
  /** Set when the slot-count annotation is not an integer (KubeVirt then fails to define the domain). */
  slotTotalError?: string;
  /** The root-complex annotation is "true": no hotplug ports at all. */
  rootComplex: boolean;
  /** Guest memory in bytes, where the spec gives it (the v2 formula needs it). */
  memoryBytes?: number;
  /** Root-bus devices by kind, hotplug ports excluded. */
  pciDevices: PciDevices;
  /** The interfaces this change hotplugs, in spec order. */
  askedInterfaces: InterfaceView[];
}

/** What the caller may know beyond the two specs. */
export interface SlotKnowledge {
  /**
   * The annotations KubeVirt read when it defined the domain: the VMI's (for a VM, its
   * spec.template.metadata.annotations; see vmiAnnotationsOf in vm.ts). Default: the base view's
   * annotations, which for a VM also hold metadata.annotations (KubeVirt ignores those).
   */
  annotations?: Record<string, string>;
  /** The running VMI: an interface it still has holds its port even if the VM spec dropped it. */
  vmi?: KubeObject;
  /**
   * Names of the interfaces in the domain at its last definition, where known. Without
   * them the old spec is the base and inUse is 0: for the v1 formula the arithmetic comes
   * out the same, T - base - inUse.
   */
  bootInterfaces?: string[];
}

export interface PciDevices {
  interfaces: number;
  hostDevices: number;
  gpus: number;
  virtioDisks: number;
  virtioInputs: number;
  watchdog: number;
  rng: number;
  memBalloon: number;
  controllers: number;
}

function busOf(device: Record<string, unknown>, fallback: string): string {
  return typeof device.bus === 'string' && device.bus !== '' ? device.bus : fallback;
}

function diskBus(disk: unknown): string | undefined {
  if (!isObject(disk)) return undefined;
  if (isObject(disk.disk)) return busOf(disk.disk, 'virtio');
  if (isObject(disk.lun)) return busOf(disk.lun, 'scsi');
  if (isObject(disk.cdrom)) return busOf(disk.cdrom, 'sata');
  // No device type: KubeVirt's defaulting makes it a virtio disk.
  return 'virtio';
}

/**
 * Root-bus devices of a VMI spec, as KubeVirt's `CountPCIDevices` sees its domain:
 * interfaces (SR-IOV ones become PCI host devices), host devices and GPUs, virtio disks
 * and inputs, watchdog, rng, balloon and controllers (compute/controllers.go adds usb,
 * scsi and virtio-serial). `asKubeVirtCounts` also counts the usb controller and balloon
 * of model "none", which CountPCIDevices counts though they take no slot.
 */
export function rootBusDevices(spec: unknown, interfaceCount: number, asKubeVirtCounts = false): PciDevices {
  const { devices, noneModels } = countDevices(spec, interfaceCount);
  if (!asKubeVirtCounts) return devices;
  return { ...devices, memBalloon: 1, controllers: devices.controllers + noneModels.usb };
}

/** One pass over the spec: the devices that take a slot, and the "none" models KubeVirt counts as well. */
function countDevices(spec: unknown, interfaceCount: number): { devices: PciDevices; noneModels: { usb: number; balloon: number } } {
  const devices = asObject(dig(spec, 'domain', 'devices'));
  const disks = asArray(devices.disks);
  const inputs = asArray(devices.inputs);
  let virtioDisks = 0;
  let scsiDisk = false;
  let usbDisk = false;
  for (const d of disks) {
    const bus = diskBus(d);
    if (bus === 'virtio') virtioDisks++;
    else if (bus === 'scsi') scsiDisk = true;
    else if (bus === 'usb' && isObject(d) && isObject(d.disk)) usbDisk = true;
  }
  let virtioInputs = 0;
  let usbInput = false;
  for (const i of inputs) {
    if (!isObject(i)) continue;
    if (i.bus === 'virtio') virtioInputs++;
    else if (i.bus === 'usb' || !i.bus) usbInput = true;
  }
  const usbNeeded = usbInput || usbDisk || devices.clientPassthrough !== undefined;
  const scsiNeeded = devices.disableHotplug !== true || scsiDisk;
  const serialNeeded = devices.autoattachSerialConsole !== false;
  const balloon = devices.autoattachMemBalloon !== false;
  return {
    devices: {
      interfaces: interfaceCount,
      hostDevices: asArray(devices.hostDevices).length,
      gpus: asArray(devices.gpus).length,
      virtioDisks,
      virtioInputs,
      watchdog: isObject(devices.watchdog) ? 1 : 0,
      rng: isObject(devices.rng) ? 1 : 0,
      memBalloon: balloon ? 1 : 0,
      controllers: (usbNeeded ? 1 : 0) + (scsiNeeded ? 1 : 0) + (serialNeeded ? 1 : 0),
    },
    noneModels: { usb: usbNeeded ? 0 : 1, balloon: balloon ? 0 : 1 },
  };
}

export function sumDevices(d: PciDevices): number {
  return d.interfaces + d.hostDevices + d.gpus + d.virtioDisks + d.virtioInputs + d.watchdog + d.rng + d.memBalloon + d.controllers;
}

/** Guest memory in bytes: memory.guest, else the memory request, else the limit (KubeVirt's defaulting order). */
function guestMemoryBytes(spec: unknown): number | undefined {
  const domain = dig(spec, 'domain');
  return parseQuantity(
    dig(domain, 'memory', 'guest') ?? dig(domain, 'resources', 'requests', 'memory') ?? dig(domain, 'resources', 'limits', 'memory'),
  );
}

interface Reservation {
  reserved: number;
  slotTotal: number;
  slotTotalSource: 'annotation' | 'config';
  slotTotalError?: string;
  rootComplex: boolean;
}

/** Spare root ports KubeVirt reserves for a domain defined with `base` interfaces. */
function reservePorts(
  model: SlotModel,
  base: number,
  annotations: Record<string, string>,
  kubevirtDeviceCount: number,
  memoryBytes: number | undefined,
  config: PolicyConfig,
): Reservation {
  const rootComplex = annotations[ROOT_COMPLEX_ANNOTATION] === 'true';
  const raw = annotations[SLOT_COUNT_ANNOTATION];
  const parsed = raw === undefined ? undefined : parseSlotCount(raw);
  const fromAnnotation = parsed !== undefined;
  const slotTotal = parsed ?? config.hotplugSlotTotal;
  const result: Reservation = {
    reserved: 0,
    slotTotal,
    slotTotalSource: fromAnnotation ? 'annotation' : 'config',
    rootComplex,
    ...(raw !== undefined && parsed === undefined
      ? { slotTotalError: `annotation ${SLOT_COUNT_ANNOTATION} is ${quote(raw)}, not an integer` }
      : {}),
  };
  // No ports on the root complex, whatever the model (kubevirt/kubevirt
  // pkg/virt-launcher/virtwrap/manager.go: placePCIDevicesOnRootComplex skips the reservation).
  if (rootComplex) return result;
  // v1 returns early for a domain without interfaces; the annotation path does not.
  const placeholders = fromAnnotation || base > 0 ? Math.max(0, slotTotal - base) : 0;
  switch (model) {
    case 'v1':
      result.reserved = placeholders;
      break;
    case 'v2': {
      // The memory-scaled count (1.6-1.8, and the extra root-port controllers of the
      // current "v3" topology, which tops the placeholders up to it). Unknown memory: small.
      const size = memoryBytes !== undefined && memoryBytes > LARGE_MEMORY_BYTES ? V2_PORTS.large : V2_PORTS.small;
      result.reserved = Math.max(placeholders, Math.max(size.total - kubevirtDeviceCount, size.min));
      break;
    }
    case 'legacy-q35':
      // libvirt's own q35 layout leaves a single spare root port.
      result.reserved = 1;
      break;
  }
  return result;
}

function interfaceNamesOf(obj: KubeObject | undefined, activeOnly: boolean): string[] {
  const names: string[] = [];
  for (const i of asArray(dig(obj, 'spec', 'domain', 'devices', 'interfaces'))) {
    if (isObject(i) && typeof i.name === 'string' && !(activeOnly && i.state === 'absent')) names.push(i.name);
  }
  return names;
}

/**
 * The budget of `vm` against the domain defined from `oldVm` (undefined: vm itself is the
 * base, as for `nicguard explain` of a manifest). The base counts every interface, SR-IOV
 * and absent ones included: KubeVirt counts every interface of the VMI spec it defines the
 * domain from (pkg/virt-launcher/virtwrap/manager.go).
 */
export function slotBudget(vm: VmView, oldVm: VmView | undefined, config: PolicyConfig, known: SlotKnowledge = {}): SlotBudget {
  const current = oldVm ?? vm;
  const annotations = known.annotations ?? current.annotations;
  const currentNames = new Set(current.interfaces.map((i) => i.name));
  const vmiOnly = known.vmi ? interfaceNamesOf(known.vmi, false).filter((n) => !currentNames.has(n)) : [];
  let base: number;
  let inUse = 0;
  if (known.bootInterfaces) {
    const boot = new Set(known.bootInterfaces);
    base = boot.size;
    inUse = [...currentNames, ...vmiOnly].filter((n) => !boot.has(n)).length;
  } else {
    base = current.interfaces.length + vmiOnly.length;
  }

  // An interface that was absent (or missing) and is active now needs a fresh port too;
  // other bindings are not hotplugged at all (hotplug-binding reports them).
  const active = new Set(current.interfaces.filter((i) => !isAbsent(i)).map((i) => i.name));
  if (known.vmi) for (const n of interfaceNamesOf(known.vmi, true)) active.add(n);
  const askedInterfaces = oldVm
    ? vm.interfaces.filter((i) => !isAbsent(i) && HOTPLUGGED_BINDINGS.has(i.binding) && !active.has(i.name))
    : [];

  const memoryBytes = guestMemoryBytes(current.spec);
  const { devices: pciDevices, noneModels } = countDevices(current.spec, base);
  const kubevirtCount = sumDevices(pciDevices) + noneModels.usb + noneModels.balloon;
  const reservation = reservePorts(config.slotModel, base, annotations, kubevirtCount, memoryBytes, config);
  return {
    model: config.slotModel,
    base,
    reserved: reservation.reserved,
    inUse,
    asked: askedInterfaces.length,
    free: Math.max(0, reservation.reserved - inUse),
    pciUsed: sumDevices(pciDevices) + reservation.reserved,
    pciLimit: config.pciSlotLimit - RESERVED_ROOT_SLOTS,
    slotTotal: reservation.slotTotal,
    slotTotalSource: reservation.slotTotalSource,
    ...(reservation.slotTotalError ? { slotTotalError: reservation.slotTotalError } : {}),
    rootComplex: reservation.rootComplex,
    ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    pciDevices,
    askedInterfaces,
  };
}

/** Root-bus use when the VM next starts from this spec: absent interfaces are dropped then. */
export function bootPciUsage(vm: VmView, annotations: Record<string, string>, config: PolicyConfig): { used: number; devices: PciDevices; reserved: number } {
  const count = vm.interfaces.filter((i) => !isAbsent(i)).length;
  const { devices, noneModels } = countDevices(vm.spec, count);
  const kubevirtCount = sumDevices(devices) + noneModels.usb + noneModels.balloon;
  // Only the v2 formula reads memory; skip the quantity parse otherwise (hot path).
  const memory = config.slotModel === 'v2' ? guestMemoryBytes(vm.spec) : undefined;
  const { reserved } = reservePorts(config.slotModel, count, annotations, kubevirtCount, memory, config);
  return { used: sumDevices(devices) + reserved, devices, reserved };
}

