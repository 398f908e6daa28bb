// The pod a run starts, as kubelet would ask for it (e2e/cri_pods.test.ts does the same): a
// host-network pod (there is no CNI here: it keeps the host's net and UTS namespaces) under its own
// cgroupParent, and one busybox container that sleeps, repeating the pod's namespace modes.

import { join } from 'node:path';
import { ContainerConfig, NamespaceMode, PodSandboxConfig } from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';

const HOST_NETWORK = { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };

export interface PodSpec {
  readonly name: string;
  readonly uid: string;
  /** PrivateContainerd.podCgroupParent(uid). */
  readonly cgroupParent: string;
  /** Where the CRI plugin writes the container logs. */
  readonly logRoot: string;
}

export function podConfig(spec: PodSpec): PodSandboxConfig {
  return PodSandboxConfig.fromPartial({
    metadata: { name: spec.name, uid: spec.uid, namespace: 'default', attempt: 0 },
    // Must be empty in the host's UTS namespace (runc: "unable to set hostname without a private UTS namespace").
    hostname: '',
    logDirectory: join(spec.logRoot, `default_${spec.name}_${spec.uid}`),
    labels: {
      'io.kubernetes.pod.name': spec.name,
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': spec.uid,
    },
    linux: { cgroupParent: spec.cgroupParent, securityContext: { namespaceOptions: HOST_NETWORK } },
  });
}

export function sleeperConfig(image: string): ContainerConfig {
  return ContainerConfig.fromPartial({
    metadata: { name: 'sleeper', attempt: 0 },
    image: { image },
    command: ['sleep', '3600'],
    logPath: 'sleeper/0.log',
    labels: { 'io.kubernetes.container.name': 'sleeper' },
    linux: { securityContext: { namespaceOptions: HOST_NETWORK } },
  });
}
