// PLACEHOLDER: the informer-backed ClusterView is to be written.
import type { ClusterView } from '../engine/types.js';
import { ObjectIndex } from './object-index.js';

export interface InformerClusterViewOptions {
  /** Path to a kubeconfig; in-cluster config when omitted. */
  kubeconfig?: string;
  /** A pino-compatible logger. */
  logger?: { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void; debug: (...a: unknown[]) => void };
}

export interface InformerClusterView extends ClusterView {
  /** True once every watched resource has been listed once. */
  isSynced(): boolean;
  /** Per resource: synced or not, for /metrics. */
  syncState(): Record<string, boolean>;
  /** Resolves when first synced. */
  waitForSync(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startInformerClusterView(_opts: InformerClusterViewOptions): Promise<InformerClusterView> {
  void ObjectIndex;
  throw new Error('not implemented');
}
