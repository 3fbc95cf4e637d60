// Pieces of the benchmarks' generated corpora that more than one benchmark uses.

/** A running VM's status as KubeVirt writes it (what `kubectl get vm -o json` shows). */
export function runningVmStatus(): Record<string, unknown> {
  return {
    printableStatus: 'Running',
    ready: true,
    created: true,
    runStrategy: 'Always',
    desiredGeneration: 3,
    observedGeneration: 3,
    conditions: [
      { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2025-01-14T09:22:41Z' },
      { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: null },
      { type: 'AgentConnected', status: 'True', lastProbeTime: null, lastTransitionTime: '2025-01-14T09:23:05Z' },
    ],
    volumeSnapshotStatuses: [
      { name: 'rootdisk', enabled: true },
      {
        name: 'cloudinitdisk',
        enabled: false,
        reason: 'Snapshot is not supported for this volumeSource type [cloudinitdisk]',
      },
    ],
  };
}

/** A VM's root disk (from its DataVolume template `<name>-root`) and cloud-init disk. */
export function bootVolumes(name: string): Record<string, unknown>[] {
  return [
    { name: 'rootdisk', dataVolume: { name: `${name}-root` } },
    {
      name: 'cloudinitdisk',
      cloudInitNoCloud: {
        userData: '#cloud-config\nuser: fedora\npassword: fedora\nchpasswd: { expire: False }\nssh_pwauth: True\n',
      },
    },
  ];
}
