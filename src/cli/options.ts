// Option parsers the commands share.
import { InvalidArgumentError } from 'commander';
import { parseKubeVirtVersion } from '../engine/kubevirt-version.js';

/** For repeatable options: `-f a -f b` -> ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--kubevirt-version`: a release such as v1.8.4, checked here so a typo is a usage error. */
export function kubevirtVersionOption(value: string): string {
  if (!parseKubeVirtVersion(value)) throw new InvalidArgumentError('expected a KubeVirt release such as v1.8.4.');
  return value;
}

export const KUBEVIRT_VERSION_HELP =
  'the KubeVirt release the cluster runs (e.g. v1.8.4); overrides kubevirtVersion in the config and the KubeVirt CR';
