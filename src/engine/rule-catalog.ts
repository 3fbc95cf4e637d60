// A short title and a one-line description of every rule, from RULES.md: for SARIF rule
// metadata, help texts and documentation. Pure data.
import type { RuleId } from './types.js';

export interface RuleInfo {
  id: RuleId;
  title: string;
  description: string;
}

export const RULE_CATALOG: Readonly<Record<RuleId, RuleInfo>> = {
  'network-pairing': {
    id: 'network-pairing',
    title: 'Interfaces and networks pair up',
    description:
      'Every interface has a network of the same name and every network an interface; names are unique and valid; each network has exactly one source, a multus network a networkName, and there is at most one default network.',
  },
  'hotplug-binding': {
    id: 'hotplug-binding',
    title: 'Hotplugged interfaces use bridge or SR-IOV on a secondary network',
    description:
      'KubeVirt syncs only bridge and SR-IOV interfaces into a running VMI; a masquerade, passt or plugin interface, or a pod network, added to a running VM waits silently for the next restart.',
  },
  'hotplug-model': {
    id: 'hotplug-model',
    title: 'Hotplugged bridge interfaces are virtio',
    description: 'A hotplugged bridge interface has model virtio or no model; hotplugged NICs are virtio and KubeVirt does not check this.',
  },
  'sriov-unplug': {
    id: 'sriov-unplug',
    title: 'SR-IOV interfaces are not unplugged from a running VM',
    description:
      'Hot-unplug of SR-IOV is unsupported: setting it absent is rejected, and removing it from the spec only marks the VM RestartRequired. Stop the VM to remove it.',
  },
  'absent-scope': {
    id: 'absent-scope',
    title: 'state: absent only on secondary bridge interfaces',
    description: 'Unplugging (state: absent) works only for bridge interfaces on secondary networks, never on the default network or other bindings.',
  },
  'hotplug-slots': {
    id: 'hotplug-slots',
    title: 'Hotplugged interfaces fit in the reserved PCIe root ports',
    description:
      'KubeVirt reserves max(0, T - base) spare root ports at boot (T = 4 by default); interfaces hotplugged since boot must fit in them, and unplugging a boot interface frees none.',
  },
  'pci-bus': {
    id: 'pci-bus',
    title: 'Devices fit on the root PCI bus',
    description:
      'Interfaces, host devices, virtio disks and inputs, watchdog, rng, balloon, controllers and hotplug placeholders stay within the root bus slots; otherwise libvirt fails with "No more available PCI slots".',
  },
  'nad-exists': {
    id: 'nad-exists',
    title: 'Multus networks refer to an existing NetworkAttachmentDefinition',
    description:
      'Each multus networkName resolves (without a namespace: the VM\'s own namespace) to a NetworkAttachmentDefinition that exists; a missing one surfaces only at pod start.',
  },
  'nad-binding-match': {
    id: 'nad-binding-match',
    title: 'Interface binding matches the NetworkAttachmentDefinition type',
    description:
      'An sriov interface points at an sriov NAD carrying the k8s.v1.cni.cncf.io/resourceName annotation; a bridge interface does not point at an sriov NAD.',
  },
  'ovn-provider': {
    id: 'ovn-provider',
    title: 'Kube-OVN NAD provider is <name>.<namespace>.ovn',
    description:
      'A kube-ovn NAD declares provider <nad-name>.<nad-namespace>.ovn (without .ovn for IPAM-only use) and a server_socket, and its name holds no dot; otherwise Kube-OVN cannot match it to its Subnet.',
  },
  'ovn-subnet': {
    id: 'ovn-subnet',
    title: 'Kube-OVN provider is bound to exactly one Subnet',
    description:
      'Exactly one Kube-OVN Subnet has the NAD\'s provider; with none, attach fails or addresses silently come from the default subnet, and two are ambiguous.',
  },
  'subnet-shape': {
    id: 'subnet-shape',
    title: 'Kube-OVN Subnet is well formed',
    description:
      'cidrBlock is valid, gateway inside it and not its network or broadcast address, excludeIps valid and inside the CIDR, protocol consistent, and an .ovn provider has the form <name>.<namespace>.ovn.',
  },
  'unplug-by-removal': {
    id: 'unplug-by-removal',
    title: 'Removing a secondary bridge interface unplugs it',
    description:
      'Deleting an interface from a running VM\'s spec does not unplug it; the mutating webhook puts it back with state: absent (and its network), so the removal does what was meant.',
  },
  'hotplug-path': {
    id: 'hotplug-path',
    title: 'What happens next after a hotplug',
    description:
      'Explains the attach path: SR-IOV hotplug needs a live migration, bridge hotplug without the dynamic networks controller needs virtctl migrate, and re-adding an interface whose unplug is pending is flagged.',
  },
};
