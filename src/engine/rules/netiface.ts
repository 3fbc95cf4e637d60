// Rule network-pairing: the shape KubeVirt's own admitter demands of interfaces and
// networks (kubevirt/kubevirt pkg/network/admitter/netiface.go, netsource.go, binding.go).
// Checked here as well so that a CI run without KubeVirt catches it, and so that the
// other rules may rely on every interface having exactly one network and one binding.
import type { Report, ValidationRule } from '../rule.js';
import { BINDINGS, type InterfaceView, type NetworkView, type VmView } from '../vm.js';
import { isObject } from '../values.js';

const RULE = 'network-pairing';
const INTERFACE_NAME = /^[A-Za-z0-9-_]+$/;
const BINDING_CHOICES = 'bridge: {}, masquerade: {}, sriov: {}, passtBinding: {} or binding: {name: <plugin>}';

/** Where a list is present but not a list, the views see it as empty; say so rather than report every pairing. */
function checkListShapes(vm: VmView, report: Report): boolean {
  let ok = true;
  const devices = vm.spec.domain?.devices;
  if (devices?.interfaces !== undefined && devices.interfaces !== null && !Array.isArray(devices.interfaces)) {
    report(RULE, 'interfaces must be a list of interface objects', `${vm.specPath}.domain.devices.interfaces`);
    ok = false;
  }
  if (vm.spec.networks !== undefined && vm.spec.networks !== null && !Array.isArray(vm.spec.networks)) {
    report(RULE, 'networks must be a list of network objects', `${vm.specPath}.networks`);
    ok = false;
  }
  return ok;
}

function checkInterfaces(vm: VmView, report: Report): void {
  const firstByName = new Map<string, InterfaceView>();
  for (const iface of vm.interfaces) {
    if (!isObject(iface.raw)) {
      report(RULE, `interfaces[${iface.index}] is not an object; write it as {name: <network name>, bridge: {}} or similar`, iface.path);
      continue;
    }
    if (iface.name === '') {
      report(RULE, `interfaces[${iface.index}] has no name; name it after the network it connects to`, `${iface.path}.name`);
      continue;
    }
    if (!INTERFACE_NAME.test(iface.name)) {
      report(
        RULE,
        `interface name "${iface.name}" may contain only letters, digits, dashes (-) and underscores (_); rename the interface and its network`,
        `${iface.path}.name`,
      );
    }
    const first = firstByName.get(iface.name);
    if (first) {
      report(
        RULE,
        `interface name "${iface.name}" is already used by interfaces[${first.index}]; one interface connects to one network, so give each interface its own name`,
        `${iface.path}.name`,
      );
    } else {
      firstByName.set(iface.name, iface);
      if (!iface.network) {
        const unplugging = iface.state === 'absent'
          ? ' An interface being unplugged (state: absent) keeps its network until KubeVirt removes both.'
          : '';
        report(
          RULE,
          `interface "${iface.name}" has no network of the same name; add a network named "${iface.name}" (multus: {networkName: <NetworkAttachmentDefinition>} or pod: {}) to ${vm.specPath}.networks, or remove the interface.${unplugging}`,
          `${iface.path}.name`,
        );
      }
    }
    if (iface.binding === 'none') {
      report(RULE, `interface "${iface.name}" has no binding; set exactly one of ${BINDING_CHOICES}`, iface.path);
    } else if (iface.binding === 'multiple') {
      const present = BINDINGS.filter((b) => iface.raw[b] !== undefined && iface.raw[b] !== null);
      report(RULE, `interface "${iface.name}" has more than one binding (${present.join(', ')}); keep exactly one`, iface.path);
    }
  }
}

function checkNetworks(vm: VmView, report: Report): void {
  const interfaceNames = new Set(vm.interfaces.map((i) => i.name));
  const firstByName = new Map<string, NetworkView>();
  for (const net of vm.networks) {
    if (!isObject(net.raw)) {
      report(RULE, `networks[${net.index}] is not an object; write it as {name: <interface name>, multus: {networkName: <nad>}} or {name: <interface name>, pod: {}}`, net.path);
      continue;
    }
    if (net.name === '') {
      report(RULE, `networks[${net.index}] has no name; name it after the interface that uses it`, `${net.path}.name`);
    } else if (firstByName.has(net.name)) {
      report(
        RULE,
        `network name "${net.name}" is already used by networks[${firstByName.get(net.name)!.index}]; every network needs a unique name`,
        `${net.path}.name`,
      );
    } else {
      firstByName.set(net.name, net);
      if (!interfaceNames.has(net.name)) {
        report(
          RULE,
          `network "${net.name}" has no interface of the same name; add an interface named "${net.name}" to ${vm.specPath}.domain.devices.interfaces, or remove the network`,
          `${net.path}.name`,
        );
      }
    }
    const label = net.name ? `network "${net.name}"` : `networks[${net.index}]`;
    if (net.source === 'none') {
      report(RULE, `${label} has no source; set pod: {} or multus: {networkName: <NetworkAttachmentDefinition>}`, net.path);
    } else if (net.source === 'multiple') {
      report(RULE, `${label} has both pod and multus; a network has exactly one source, keep one`, net.path);
    } else if (net.source === 'multus' && !net.networkName) {
      report(
        RULE,
        `${label} is a multus network without networkName; set it to the NetworkAttachmentDefinition's name ("name" in the VM's namespace, or "namespace/name")`,
        `${net.path}.multus.networkName`,
      );
    }
  }
}

/** At most one pod network, at most one multus default, never both (netsource.go). */
function checkPrimaryNetwork(vm: VmView, report: Report): void {
  const pods = vm.networks.filter((n) => n.source === 'pod');
  const defaults = vm.networks.filter((n) => n.source === 'multus' && n.isMultusDefault);
  for (const extra of pods.slice(1)) {
    report(
      RULE,
      `network "${extra.name}" is a second pod network (the first is "${pods[0].name}"); a VM connects to the pod network at most once, so use a multus network for "${extra.name}"`,
      `${extra.path}.pod`,
    );
  }
  for (const extra of defaults.slice(1)) {
    report(
      RULE,
      `network "${extra.name}" is a second multus default network (the first is "${defaults[0].name}"); only one network can be the default, remove default: true from one`,
      `${extra.path}.multus.default`,
    );
  }
  if (pods.length > 0 && defaults.length > 0) {
    report(
      RULE,
      `network "${defaults[0].name}" is a multus default network, but pod network "${pods[0].name}" is also defined; the primary network is one or the other, so remove the pod network or default: true`,
      `${defaults[0].path}.multus.default`,
    );
  }
}

export const networkPairingRule: ValidationRule = {
  ids: [RULE],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    const vm = ctx.vm;
    if (!vm) return;
    if (!checkListShapes(vm, report)) return;
    checkInterfaces(vm, report);
    checkNetworks(vm, report);
    checkPrimaryNetwork(vm, report);
  },
};
