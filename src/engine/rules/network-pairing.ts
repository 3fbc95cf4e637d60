// Rule network-pairing: the shape KubeVirt's own admitter demands of interfaces and
// networks (kubevirt/kubevirt pkg/network/admitter/netiface.go, netsource.go, binding.go).
// Checked here as well so that a CI run without KubeVirt catches it, and so that the
// other rules may rely on every interface having exactly one network. How many bindings an
// interface may have depends on the release: binding-support judges that.
import type { FieldPath } from '../field-path.js';
import { versionedCauses, type VmFacts } from '../analysis.js';
import { atLeast, type KubeVirtVersion } from '../kubevirt-version.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import { quote } from '../values.js';
import { interfacesOf, type InterfaceView, type NetworkSource, type NetworkView, type VmView } from '../vm.js';

const INTERFACE_NAME = /^[A-Za-z0-9-_]+$/;

/**
 * The sources a release sees: `resourceClaim` (DRA) exists from v1.9.0; older releases'
 * CRD schema prunes the unknown field (kubevirt/kubevirt staging/src/kubevirt.io/api/core/v1/schema.go
 * v1.9.0 `NetworkSource.ResourceClaim`; pkg/network/admitter/netsource.go v1.9.0 counts it).
 */
function sourcesUnder(net: NetworkView, version: KubeVirtVersion): NetworkSource[] {
  return net.sources.filter((s) => s !== 'resourceClaim' || atLeast(version, 1, 9, 0));
}

/** How a message names a network: by name, else by its place in the list. */
function networkLabel(net: NetworkView): string {
  return net.name ? `network ${quote(net.name)}` : `networks[${net.index}]`;
}

function isMalformedList(v: unknown): boolean {
  return v !== undefined && v !== null && !Array.isArray(v);
}

/** Where a list is present but not a list, the views see it as empty; say so rather than report every pairing. */
function listShapes(vm: VmView): Cause[] {
  const causes: Cause[] = [];
  if (isMalformedList(interfacesOf(vm.spec))) {
    const field: FieldPath = vm.specPath.field('domain', 'devices', 'interfaces');
    causes.push({ message: 'interfaces must be a list of interface objects', field });
  }
  if (isMalformedList(vm.spec.networks)) {
    causes.push({ message: 'networks must be a list of network objects', field: vm.specPath.field('networks') });
  }
  return causes;
}

function interfaceCauses(vm: VmView): Cause[] {
  const causes: Cause[] = [];
  const firstByName = new Map<string, InterfaceView>();
  for (const iface of vm.interfaces) {
    if (iface.fields !== iface.raw) {
      causes.push({
        message:
          `interfaces[${iface.index}] is not an object; write it as {name: <network name>, bridge: {}} or ` + `similar`,
        field: iface.path,
      });
      continue;
    }
    if (iface.name === '') {
      causes.push({
        message: `interfaces[${iface.index}] has no name; name it after the network it connects to`,
        field: iface.path.field('name'),
      });
      continue;
    }
    if (!INTERFACE_NAME.test(iface.name)) {
      causes.push({
        message:
          `interface name ${quote(iface.name)} ` +
          `may contain only letters, digits, dashes (-) and underscores (_); rename ` +
          `the interface and its network`,
        field: iface.path.field('name'),
      });
    }
    const first = firstByName.get(iface.name);
    if (first) {
      causes.push({
        message:
          `interface name ${quote(iface.name)} ` +
          `is already used by interfaces[${first.index}]; one interface connects to ` +
          `one network, so give each interface its own name`,
        field: iface.path.field('name'),
      });
    } else {
      firstByName.set(iface.name, iface);
      if (!iface.network) {
        const unplugging =
          iface.state === 'absent'
            ? ' An interface being unplugged (state: absent) keeps its network until KubeVirt removes both.'
            : '';
        causes.push({
          message:
            `interface ${quote(iface.name)} ` +
            `has no network of the same name; add a network named ${quote(iface.name)} (multus: ` +
            `{networkName: <NetworkAttachmentDefinition>} or pod: {}) to ${vm.specPath}.networks, or remove the ` +
            `interface.${unplugging}`,
          field: iface.path.field('name'),
        });
      }
    }
  }
  return causes;
}

function networkCauses(vm: VmView, facts: VmFacts): Cause[] {
  const causes: Cause[] = [];
  const interfaceNames = new Set(vm.interfaces.map((i) => i.name));
  const firstByName = new Map<string, NetworkView>();
  for (const net of vm.networks) {
    if (net.fields !== net.raw) {
      causes.push({
        message:
          `networks[${net.index}] is not an object; write it as {name: <interface name>, multus: ` +
          `{networkName: <nad>}} or {name: <interface name>, pod: {}}`,
        field: net.path,
      });
      continue;
    }
    const first = firstByName.get(net.name);
    if (net.name === '') {
      causes.push({
        message: `networks[${net.index}] has no name; name it after the interface that uses it`,
        field: net.path.field('name'),
      });
    } else if (first) {
      causes.push({
        message:
          `network name ${quote(net.name)} is already used by networks[${first.index}]; every network needs a ` +
          `unique name`,
        field: net.path.field('name'),
      });
    } else {
      firstByName.set(net.name, net);
      if (!interfaceNames.has(net.name)) {
        causes.push({
          message:
            `network ${quote(net.name)} has no interface of the same name; add an interface named ` +
            `${quote(net.name)} to ${vm.specPath}.domain.devices.interfaces, or remove the network`,
          field: net.path.field('name'),
        });
      }
    }
    // Without a resourceClaim every release sees the same sources: most networks have exactly
    // one, and then no release refuses and no message is built.
    const claim = net.sources.includes('resourceClaim');
    if (claim || net.sources.length !== 1) {
      const label = networkLabel(net);
      const dra = claim
        ? ' resourceClaim (a DRA network) exists only from KubeVirt v1.9.0; older releases drop the field.'
        : '';
      causes.push(
        ...versionedCauses(
          facts,
          (v) => sourcesUnder(net, v).length === 0,
          () => ({
            message:
              `${label} has no source; ` + `set pod: {} or multus: {networkName: <NetworkAttachmentDefinition>}.${dra}`,
            field: net.path,
          }),
        ),
        ...versionedCauses(
          facts,
          (v) => sourcesUnder(net, v).length > 1,
          () => ({
            message: `${label} has ${net.sources.join(' and ')}; a network has exactly one source, keep one.`,
            field: net.path,
          }),
        ),
      );
    }
    if (net.source === 'multus' && !net.networkName) {
      causes.push({
        message:
          `${networkLabel(net)} is a multus network without networkName; ` +
          `set it to the NetworkAttachmentDefinition's name ` +
          `("name" in the VM's namespace, or "namespace/name")`,
        field: net.path.field('multus', 'networkName'),
      });
    }
  }
  return causes;
}

/** At most one pod network, at most one multus default, never both (netsource.go). */
function primaryNetworkCauses(vm: VmView): Cause[] {
  const causes: Cause[] = [];
  const pods = vm.networks.filter((n) => n.source === 'pod');
  const defaults = vm.networks.filter((n) => n.source === 'multus' && n.isMultusDefault);
  for (const extra of pods.slice(1)) {
    causes.push({
      message:
        `network ${quote(extra.name)} is a second pod network (the first is ${quote(pods[0].name)}); a VM ` +
        `connects to the pod network at most once, so use a multus network for ${quote(extra.name)}`,
      field: extra.path.field('pod'),
    });
  }
  for (const extra of defaults.slice(1)) {
    causes.push({
      message:
        `network ${quote(extra.name)} is a second multus default network (the first is ` +
        `${quote(defaults[0].name)}); only one network can be the default, remove default: true from one`,
      field: extra.path.field('multus', 'default'),
    });
  }
  if (pods.length > 0 && defaults.length > 0) {
    causes.push({
      message:
        `network ${quote(defaults[0].name)} is a multus default network, but pod network ` +
        `${quote(pods[0].name)} is also defined; the primary network is one or the other, so remove the pod network ` +
        `or default: true`,
      field: defaults[0].path.field('multus', 'default'),
    });
  }
  return causes;
}

export const networkPairing: RuleDescriptor<'network-pairing'> = defineRule({
  id: 'network-pairing',
  title: 'Interfaces and networks pair up',
  summary: 'interfaces without networks, duplicate names, malformed sources',
  description:
    'Every interface has a network of the same name and every network an interface; names are unique and valid; ' +
    'each network has exactly one source (pod, multus, or from KubeVirt v1.9.0 resourceClaim), a multus network a ' +
    'networkName, and there is at most one default network.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: ({ vm, facts }) => {
      const shapes = listShapes(vm);
      if (shapes.length) return shapes;
      return [...interfaceCauses(vm), ...networkCauses(vm, facts), ...primaryNetworkCauses(vm)];
    },
  },
});
