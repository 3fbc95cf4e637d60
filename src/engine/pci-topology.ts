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
import { atLeast, REPRESENTATIVE_VERSIONS, type KnownVersion, type KubeVirtVersion } from './kubevirt-version.js';
import type { KubeObject, PolicyConfig, SlotModel } from './types.js';
import { parseQuantity } from './quantity.js';
import { interfacesOf, isAbsent, type InterfaceView, type VmView } from './vm.js';
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
  /** v3: the spec is not PCIe (architecture or machine type), so KubeVirt reserves nothing. */
  notPcie?: boolean;
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
interface DeviceCount {
  devices: PciDevices;
  noneModels: { usb: number; balloon: number };
}

// A spec's devices are counted once per spec object: the slot and bus rules ask for them
// under each reservation rule they weigh. Keyed by the spec alone (the interface count is
// applied on the way out), so nothing else can leak between requests.
const deviceCounts = new WeakMap<object, DeviceCount>();
const memories = new WeakMap<object, { bytes: number | undefined }>();

function countDevices(spec: unknown, interfaceCount: number): DeviceCount {
  const key = typeof spec === 'object' && spec !== null ? spec : undefined;
  let counted = key && deviceCounts.get(key);
  if (!counted) {
    counted = countSpecDevices(spec);
    if (key) deviceCounts.set(key, counted);
  }
  return { devices: { ...counted.devices, interfaces: interfaceCount }, noneModels: counted.noneModels };
}

function countSpecDevices(spec: unknown): DeviceCount {
  const interfaceCount = 0;
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
  return (
    d.interfaces +
    d.hostDevices +
    d.gpus +
    d.virtioDisks +
    d.virtioInputs +
    d.watchdog +
    d.rng +
    d.memBalloon +
    d.controllers
  );
}

/** Guest memory in bytes: memory.guest, else the memory request, else the limit (KubeVirt's defaulting order). */
function guestMemoryBytes(spec: unknown): number | undefined {
  const key = typeof spec === 'object' && spec !== null ? spec : undefined;
  const known = key && memories.get(key);
  if (known) return known.bytes;
  const domain = dig(spec, 'domain');
  const bytes = parseQuantity(
    dig(domain, 'memory', 'guest') ??
      dig(domain, 'resources', 'requests', 'memory') ??
      dig(domain, 'resources', 'limits', 'memory'),
  );
  if (key) memories.set(key, { bytes });
  return bytes;
}

/**
 * How one KubeVirt release reserves hotplug ports: its slot model, and in v3 which
 * PCIe-support guard it applies (pkg/defaults/defaults.go SupportsPCIeHotplug).
 */
export interface ReservationRule {
  model: SlotModel;
  /** v3 only: none (v1.6.4, v1.7.2, v1.8.0-1), architecture (v1.6.5, v1.7.3, v1.8.2), or both (later). */
  pcieGuard: 'none' | 'arch' | 'arch-and-machine';
}

/** The release's rule (docs/compatibility.md, "PCI slot model per release"). */
export function reservationRuleFor(v: KubeVirtVersion): ReservationRule {
  const from = (minor: number, patch: number) => v.minor === minor && v.patch >= patch;
  const v3 = atLeast(v, 1, 8) || from(7, 2) || from(6, 4);
  if (!v3) return { model: atLeast(v, 1, 6) ? 'v2' : 'v1', pcieGuard: 'none' };
  const both = atLeast(v, 1, 8, 3) || from(7, 4) || from(6, 6);
  const arch = both || from(8, 2) || from(7, 3) || from(6, 5);
  return { model: 'v3', pcieGuard: both ? 'arch-and-machine' : arch ? 'arch' : 'none' };
}

/** A model set in the configuration: v3 with the newest guard. */
export function reservationRuleOf(model: SlotModel): ReservationRule {
  return { model, pcieGuard: model === 'v3' ? 'arch-and-machine' : 'none' };
}

interface Reservation {
  reserved: number;
  slotTotal: number;
  slotTotalSource: 'annotation' | 'config';
  slotTotalError?: string;
  rootComplex: boolean;
  /** v3: KubeVirt reserves nothing, as the spec is not PCIe (architecture or machine type). */
  notPcie?: boolean;
}

/** SupportsPCIeHotplug: amd64, arm64 or unset; with the machine guard also q35 or virt machines (or unset). */
function supportsPcieHotplug(spec: unknown, guard: ReservationRule['pcieGuard']): boolean {
  if (guard === 'none') return true;
  const arch = dig(spec, 'architecture');
  if (arch !== undefined && arch !== '' && arch !== 'amd64' && arch !== 'arm64') return false;
  if (guard === 'arch') return true;
  const machine = dig(spec, 'domain', 'machine', 'type');
  return typeof machine !== 'string' || machine === '' || machine.includes('q35') || machine.startsWith('virt');
}

// The formulas, one function each as upstream has them (pkg/virt-launcher/virtwrap/
// manager.go and nichotplug.go at the tags in docs/compatibility.md); the conformance
// vectors in test/conformance/vectors/kubevirt-slots.json pin them down.

function onRootComplex(annotations: Record<string, string>): boolean {
  return annotations[ROOT_COMPLEX_ANNOTATION] === 'true';
}

/**
 * v1 (and v3's fallback, calculateHotplugPortCountV1): max(0, T - interfaces), none on the
 * root complex or without interfaces.
 */
export function v1Placeholders(interfaces: number, annotations: Record<string, string>, slotTotal: number): number {
  return onRootComplex(annotations) || interfaces === 0 ? 0 : Math.max(0, slotTotal - interfaces);
}

/**
 * v3 calculatePlaceholderCount: the slot-count annotation's total when valid (no other check
 * on that path), else v1.
 */
export function v3Placeholders(interfaces: number, annotations: Record<string, string>, slotTotal: number): number {
  const raw = annotations[SLOT_COUNT_ANNOTATION];
  const annotated = raw === undefined ? undefined : parseSlotCount(raw);
  return annotated !== undefined
    ? Math.max(0, annotated - interfaces)
    : v1Placeholders(interfaces, annotations, slotTotal);
}

/** v2 calculateHotplugPortCount (v3's calculateHotplugPortCountV2): memory-scaled, none on the root complex. */
export function memoryScaledPorts(
  pciDevices: number,
  memoryBytes: number | undefined,
  annotations: Record<string, string>,
): number {
  if (onRootComplex(annotations)) return 0;
  // Unknown memory counts as small: fewer ports, and a VM without memory is refused by KubeVirt anyway.
  const size = memoryBytes !== undefined && memoryBytes > LARGE_MEMORY_BYTES ? V2_PORTS.large : V2_PORTS.small;
  return Math.max(size.total - pciDevices, size.min);
}

/** v3 calculateExtraControllerCount: empty root ports that top the placeholders up to the memory-scaled count. */
export function v3ExtraPorts(
  placeholders: number,
  pciDevices: number,
  memoryBytes: number | undefined,
  annotations: Record<string, string>,
): number {
  return Math.max(0, memoryScaledPorts(pciDevices, memoryBytes, annotations) - placeholders);
}

/**
 * Spare root ports KubeVirt reserves for a domain defined with `base` interfaces
 * (pkg/virt-launcher/virtwrap/manager.go allocateHotplugPorts and nichotplug.go; v1:
 * ReservedInterfaces = 4, configurable here as hotplugSlotTotal for patched builds).
 */
function reservePorts(
  rule: ReservationRule,
  base: number,
  spec: unknown,
  annotations: Record<string, string>,
  kubevirtDeviceCount: number,
  config: PolicyConfig,
): Reservation {
  const rootComplex = onRootComplex(annotations);
  // Only v3 releases read the slot-count annotation (it first appears in v1.6.4).
  const raw = rule.model === 'v3' ? annotations[SLOT_COUNT_ANNOTATION] : undefined;
  const parsed = raw === undefined ? undefined : parseSlotCount(raw);
  const result: Reservation = {
    reserved: 0,
    slotTotal: parsed ?? config.hotplugSlotTotal,
    slotTotalSource: parsed !== undefined ? 'annotation' : 'config',
    rootComplex,
    ...(raw !== undefined && parsed === undefined
      ? { slotTotalError: `annotation ${SLOT_COUNT_ANNOTATION} is ${quote(raw)}, not an integer` }
      : {}),
  };
  switch (rule.model) {
    case 'v1':
      result.reserved = v1Placeholders(base, annotations, config.hotplugSlotTotal);
      break;
    case 'v2':
      result.reserved = memoryScaledPorts(kubevirtDeviceCount, guestMemoryBytes(spec), annotations);
      break;
    case 'v3': {
      if (!supportsPcieHotplug(spec, rule.pcieGuard)) {
        result.notPcie = true;
        break;
      }
      const placeholders = v3Placeholders(base, annotations, config.hotplugSlotTotal);
      result.reserved =
        placeholders + v3ExtraPorts(placeholders, kubevirtDeviceCount, guestMemoryBytes(spec), annotations);
      break;
    }
    case 'legacy-q35':
      // libvirt's own q35 layout leaves a single spare root port (not KubeVirt's reservation).
      result.reserved = 1;
      break;
  }
  return result;
}

function interfaceNamesOf(obj: KubeObject | undefined, activeOnly: boolean): string[] {
  const names: string[] = [];
  for (const i of asArray(interfacesOf(obj?.spec))) {
    if (isObject(i) && typeof i.name === 'string' && !(activeOnly && i.state === 'absent')) names.push(i.name);
  }
  return names;
}

/** What a budget needs that is the same under every reservation rule. */
interface BudgetBase {
  current: VmView;
  annotations: Record<string, string>;
  base: number;
  inUse: number;
  askedInterfaces: InterfaceView[];
  memoryBytes: number | undefined;
  pciDevices: PciDevices;
  kubevirtCount: number;
}

function budgetBase(vm: VmView, oldVm: VmView | undefined, known: SlotKnowledge): BudgetBase {
  const current = oldVm ?? vm;
  const annotations = known.annotations ?? current.annotations;
  const currentNames = current.interfaceByName;
  const vmiOnly = known.vmi ? interfaceNamesOf(known.vmi, false).filter((n) => !currentNames.has(n)) : [];
  let base: number;
  let inUse = 0;
  if (known.bootInterfaces) {
    const boot = new Set(known.bootInterfaces);
    base = boot.size;
    inUse = [...currentNames.keys(), ...vmiOnly].filter((n) => !boot.has(n)).length;
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

  const { devices: pciDevices, noneModels } = countDevices(current.spec, base);
  return {
    current,
    annotations,
    base,
    inUse,
    askedInterfaces,
    memoryBytes: guestMemoryBytes(current.spec),
    pciDevices,
    kubevirtCount: sumDevices(pciDevices) + noneModels.usb + noneModels.balloon,
  };
}

function budgetUnder(b: BudgetBase, rule: ReservationRule, config: PolicyConfig): SlotBudget {
  const { base, inUse, askedInterfaces, memoryBytes, pciDevices } = b;
  const reservation = reservePorts(rule, base, b.current.spec, b.annotations, b.kubevirtCount, config);
  return {
    model: rule.model,
    ...(reservation.notPcie ? { notPcie: true } : {}),
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

/**
 * The budget of `vm` against the domain defined from `oldVm` (undefined: vm itself is the
 * base, as for `nicguard explain` of a manifest). The base counts every interface, SR-IOV
 * and absent ones included: KubeVirt counts every interface of the VMI spec it defines the
 * domain from (pkg/virt-launcher/virtwrap/manager.go).
 */
export function slotBudget(
  vm: VmView,
  oldVm: VmView | undefined,
  rule: ReservationRule,
  config: PolicyConfig,
  known: SlotKnowledge = {},
): SlotBudget {
  return budgetUnder(budgetBase(vm, oldVm, known), rule, config);
}

/**
 * The budget under each of several reservation rules (one per release family when the
 * version is unknown): what does not depend on the rule is worked out once. None when
 * the change hotplugs nothing, as then no rule can run out of ports.
 */
export function slotBudgetsIfAsked(
  vm: VmView,
  oldVm: VmView,
  rules: readonly ReservationRule[],
  config: PolicyConfig,
  known: SlotKnowledge = {},
): SlotBudget[] {
  const b = budgetBase(vm, oldVm, known);
  return b.askedInterfaces.length === 0 ? [] : rules.map((rule) => budgetUnder(b, rule, config));
}

/** Root-bus use when the VM next starts from this spec: absent interfaces are dropped then. */
export function bootPciUsage(
  vm: VmView,
  annotations: Record<string, string>,
  rule: ReservationRule,
  config: PolicyConfig,
): { used: number; devices: PciDevices; reserved: number } {
  return bootPciUsages(vm, annotations, config)(rule);
}

/**
 * The same under any reservation rule: the devices are counted once, and only the
 * reservation is worked out per rule.
 */
export function bootPciUsages(
  vm: VmView,
  annotations: Record<string, string>,
  config: PolicyConfig,
): (rule: ReservationRule) => { used: number; devices: PciDevices; reserved: number } {
  let count = 0;
  for (const i of vm.interfaces) if (!isAbsent(i)) count++;
  const { devices, noneModels } = countDevices(vm.spec, count);
  const kubevirtCount = sumDevices(devices) + noneModels.usb + noneModels.balloon;
  const used = sumDevices(devices);
  return (rule) => {
    const { reserved } = reservePorts(rule, count, vm.spec, annotations, kubevirtCount, config);
    return { used: used + reserved, devices, reserved };
  };
}

/** A reservation rule to judge under, and the releases it stands for (unknown version) or none. */
export interface RuleChoice {
  rule: ReservationRule;
  /** The representative releases that reserve this way, when the version is not known. */
  versions?: KubeVirtVersion[];
}

/**
 * The reservation rules to judge a VM under: the configured model; else the known
 * version's; else one per distinct rule among the supported releases (docs/compatibility.md).
 */
/**
 * Whether the reservation weighed is a guess: slotModel auto, and a KubeVirt release nicguard
 * has not read (judged under every followed release). hotplug-slots and pci-bus only warn then.
 */
export function reservationFromUnreadRelease(config: PolicyConfig, known: KnownVersion | undefined): boolean {
  return config.slotModel === 'auto' && known?.followed === false;
}

export function reservationRulesToJudge(config: PolicyConfig, known: KnownVersion | undefined): RuleChoice[] {
  if (config.slotModel !== 'auto') return [{ rule: reservationRuleOf(config.slotModel) }];
  if (known?.followed) return [{ rule: reservationRuleFor(known.version) }];
  return everyReleaseRules;
}

/** One choice per distinct reservation rule among the supported releases; a constant. */
const everyReleaseRules: RuleChoice[] = (() => {
  const choices: RuleChoice[] = [];
  for (const version of REPRESENTATIVE_VERSIONS) {
    const rule = reservationRuleFor(version);
    const same = choices.find((c) => c.rule.model === rule.model && c.rule.pcieGuard === rule.pcieGuard);
    if (same) same.versions?.push(version);
    else choices.push({ rule, versions: [version] });
  }
  return choices;
})();
