// Rule interface-fields: the per-interface fields KubeVirt's admitter checks on every VM
// create and update and every VMI create (kubevirt/kubevirt pkg/network/admitter/netiface.go
// `validateInterfacesFields`, binding.go, admit.go `validateInterfaceStateValue`, v1.4.1 to
// v1.9.0; notes/FACTS.md B.3, B.5). model, macAddress, pciAddress, ports on the pod network,
// DHCP options and the interface state, each judged under the KubeVirt release in use.
import { isIP } from 'node:net';
import { judgedByKubeVirtAdmission, versionedCauses } from '../analysis.js';
import { atLeast } from '../kubevirt-version.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import { asArray, asObject, isObject, quote } from '../values.js';
import type { InterfaceView } from '../vm.js';

/** netiface.go `validInterfaceModels` (same set v1.4.1-v1.9.0). */
const MODELS = ['e1000', 'e1000e', 'igb', 'ne2k_pci', 'pcnet', 'rtl8139', 'virtio'];
/** pkg/util/hardware/hw_utils.go `PCI_ADDRESS_PATTERN`. */
const PCI_ADDRESS = /^([\da-fA-F]{4}):([\da-fA-F]{2}):([\da-fA-F]{2})\.([0-7]{1})$/;
/** pkg/network/link/mac.go `IsReserved`: the in-pod bridge's MAC, compared as written. */
const RESERVED_MAC = '02:00:00:00:00:00';

const MAC6 = /^[0-9a-fA-F]{2}(?:([:-])[0-9a-fA-F]{2})(?:\1[0-9a-fA-F]{2}){4}$/;

/**
 * The bytes of a MAC address as Go's net.ParseMAC reads it (colon, dash or dot form, 6, 8
 * or 20 bytes), or undefined where ParseMAC fails.
 */
function parseMacLength(text: string): number | undefined {
  // The common form, six colon- or dash-separated pairs, in one test.
  if (MAC6.test(text)) return 6;
  const hex = (s: string) => /^[0-9a-fA-F]+$/.test(s);
  if (text.length < 14) return undefined;
  let groups: string[];
  let width: number;
  if (text[2] === ':' || text[2] === '-') {
    if ((text.length + 1) % 3 !== 0) return undefined;
    groups = text.split(text[2]);
    width = 2;
  } else if (text[4] === '.') {
    if ((text.length + 1) % 5 !== 0) return undefined;
    groups = text.split('.');
    width = 4;
  } else {
    return undefined;
  }
  if (!groups.every((g) => g.length === width && hex(g))) return undefined;
  const bytes = (groups.length * width) / 2;
  return bytes === 6 || bytes === 8 || bytes === 20 ? bytes : undefined;
}

/** k8s.io/apimachinery validation.IsValidPortName: IANA_SVC_NAME. */
function isValidPortName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= 15 &&
    /^[a-z0-9-]+$/.test(name) &&
    /[a-z]/.test(name) &&
    !name.startsWith('-') &&
    !name.endsWith('-') &&
    !name.includes('--')
  );
}

/** Go's net.ParseIP(s).To4() != nil: dotted IPv4, or IPv6 that maps one (::ffff:a.b.c.d). */
function isIpv4(text: string): boolean {
  if (isIP(text) === 4) return true;
  const mapped = /^::ffff:(.+)$/i.exec(text);
  return mapped !== null && isIP(mapped[1]) === 4;
}

function fieldCauses(iface: InterfaceView): Cause[] {
  const causes: Cause[] = [];
  const { model } = iface.fields;
  if (typeof model === 'string' && model !== '' && !MODELS.includes(model)) {
    causes.push({
      message:
        `interface ${quote(iface.name)} uses model ${quote(model)}, which KubeVirt does not support; use one of ` +
        `${MODELS.join(', ')}.`,
      field: iface.path.field('model'),
    });
  }
  const mac = iface.fields.macAddress;
  if (typeof mac === 'string' && mac !== '') {
    const bytes = parseMacLength(mac);
    if (bytes === undefined || bytes > 6) {
      causes.push({
        message:
          `interface ${quote(iface.name)} ` +
          `has ${bytes === undefined ? 'a malformed' : 'a too long'} MAC address ${quote(mac)}; ` +
          'write six bytes as 02:00:00:ab:cd:ef (dashes or the 0200.00ab.cdef form also work).',
        field: iface.path.field('macAddress'),
      });
    } else if (mac === RESERVED_MAC && iface.bindings.includes('masquerade')) {
      causes.push({
        message:
          `interface ${quote(iface.name)} ` +
          `uses masquerade with MAC ${RESERVED_MAC}, which KubeVirt reserves for the in-pod ` +
          `bridge; choose another.`,
        field: iface.path.field('macAddress'),
      });
    }
  }
  const pci = iface.fields.pciAddress;
  if (typeof pci === 'string' && pci !== '' && !PCI_ADDRESS.test(pci)) {
    causes.push({
      message:
        `interface ${quote(iface.name)} has a malformed PCI address ${quote(pci)}; write it as dddd:bb:ss.f, e.g. ` +
        `0000:81:01.0.`,
      field: iface.path.field('pciAddress'),
    });
  }
  return causes;
}

/** ports, checked only on the pod network (netiface.go `validatePortConfiguration`). */
function portCauses(ctx: VmContext, iface: InterfaceView): Cause[] {
  if (!iface.network?.sources.includes('pod') || !Array.isArray(iface.fields.ports)) return [];
  const causes: Cause[] = [];
  const name = quote(iface.name);
  const seen = new Set<string>();
  iface.fields.ports.forEach((raw, p) => {
    const port = asObject(raw);
    const path = iface.path.field('ports').index(p);
    const portName = typeof port.name === 'string' ? port.name : '';
    if (portName !== '') {
      if (seen.has(portName)) {
        causes.push({
          message: `interface ${name} has two ports named ${quote(portName)}; port names must be unique.`,
          field: path.field('name'),
        });
      }
      if (!isValidPortName(portName)) {
        causes.push({
          message:
            `interface ${name} has port name ${quote(portName)}, which is not a valid port name (1-15 lower-case ` +
            'letters, digits and single dashes, at least one letter).',
          field: path.field('name'),
        });
      }
      seen.add(portName);
    }
    const number = typeof port.port === 'number' ? port.port : 0;
    if (number === 0) {
      causes.push({
        message: `interface ${name} has ports[${p}] without a port number; set port.`,
        field: path.field('port'),
      });
    }
    // v1.4.x-v1.8.x test `Port > 65536`, so 65536 passes there; v1.9.0 tests `>= 65536`.
    causes.push(
      ...versionedCauses(ctx.facts, (v) => number < 0 || number > 65536 || (number === 65536 && atLeast(v, 1, 9, 0)), {
        message: `interface ${name} has port ${number} in ports[${p}]; a port must be in 1-65535.`,
        field: path.field('port'),
      }),
    );
    const protocol = port.protocol;
    if (protocol !== undefined && protocol !== '' && protocol !== 'TCP' && protocol !== 'UDP') {
      causes.push({
        message:
          `interface ${name} has protocol ${quote(protocol)} in ports[${p}]; KubeVirt allows only TCP or UDP ` +
          `(upper case).`,
        field: path.field('protocol'),
      });
    }
  });
  return causes;
}

/** dhcpOptions (netiface.go `validateDHCPOptions`). */
function dhcpCauses(iface: InterfaceView): Cause[] {
  const dhcp = iface.fields.dhcpOptions;
  if (!isObject(dhcp)) return [];
  const causes: Cause[] = [];
  const name = quote(iface.name);
  const path = iface.path.field('dhcpOptions');
  const options = asArray(dhcp.privateOptions).map((o) => asObject(o).option);
  const numbers = options.map((o) => (typeof o === 'number' ? o : 0));
  if (new Set(numbers).size < numbers.length) {
    causes.push({
      message: `interface ${name} lists a DHCP private option twice; each option once.`,
      field: path.field('privateOptions'),
    });
  }
  if (numbers.some((o) => o < 224 || o > 254)) {
    causes.push({
      message: `interface ${name} has a DHCP private option outside 224-254, the range KubeVirt allows.`,
      field: path.field('privateOptions'),
    });
  }
  asArray(dhcp.ntpServers).forEach((server, k) => {
    if (typeof server === 'string' && isIpv4(server)) return;
    causes.push({
      message: `interface ${name} has NTP server ${quote(server)}; KubeVirt wants IPv4 addresses.`,
      field: path.field('ntpServers').index(k),
    });
  });
  return causes;
}

/** state (admit.go `validateInterfaceStateValue`): v1.4 "" or absent; v1.5+ also up and down, not on SR-IOV. */
function stateCauses(ctx: VmContext, iface: InterfaceView): Cause[] {
  const state = iface.fields.state;
  if (state === undefined || state === null || state === '' || state === 'absent') return [];
  const name = quote(iface.name);
  const field = iface.path.field('state');
  const link = state === 'up' || state === 'down';
  const causes = versionedCauses(ctx.facts, (v) => !link || !atLeast(v, 1, 5, 0), {
    message: `interface ${name} has state ${quote(state)}; KubeVirt accepts "" or absent, and up or down from v1.5.0.`,
    field,
  });
  if (link && iface.bindings.includes('sriov')) {
    causes.push(
      ...versionedCauses(ctx.facts, (v) => atLeast(v, 1, 5, 0), {
        message:
          `interface ${name} is SR-IOV, and KubeVirt does not support link state ${quote(state)} on SR-IOV ` +
          `NICs; remove state.`,
        field,
      }),
    );
  }
  return causes;
}

export const interfaceFields: RuleDescriptor<'interface-fields'> = defineRule({
  id: 'interface-fields',
  title: 'Interface fields KubeVirt accepts',
  summary: 'model, MAC, PCI address, ports, DHCP options or state KubeVirt refuses',
  description:
    'The interface fields KubeVirt validates on every VM create and update: a supported model, a MAC address that ' +
    'parses (at most 6 bytes; not the reserved 02:00:00:00:00:00 with masquerade), a well-formed PCI address, valid ' +
    'ports on the pod network, DHCP private options in 224-254 and IPv4 NTP servers, and a state the release knows.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) =>
      !judgedByKubeVirtAdmission(ctx.kind, ctx.request.operation)
        ? []
        : ctx.vm.interfaces
            .filter((iface) => iface.fields === iface.raw)
            .flatMap((iface) => [
              ...fieldCauses(iface),
              ...portCauses(ctx, iface),
              ...dhcpCauses(iface),
              ...stateCauses(ctx, iface),
            ]),
  },
});
