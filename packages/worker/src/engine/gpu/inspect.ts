/**
 * What a backend offers on this machine, without running an attempt: the adapter, its features
 * and subgroup-matrix configs, and every kernel variant with the reason it cannot run here (or
 * null). Tests derive their expectations from it and the GPU check prints it.
 */
import { errorText, firstLine } from "../errors";
import type { AdapterSummary } from "../types";
import { openAdapter, type GpuBackendKind } from "./dawn";
import { GpuContext, type SubgroupMatrixConfig } from "./device";
import { allVariants, type VariantFamily } from "./variants";

export interface VariantAvailability {
  readonly name: string;
  readonly family: VariantFamily;
  /** Why this device cannot run it, or null. */
  readonly problem: string | null;
}

export type BackendReport =
  | { readonly kind: GpuBackendKind; readonly ok: false; readonly reason: string }
  | {
      readonly kind: GpuBackendKind;
      readonly ok: true;
      readonly adapter: AdapterSummary & { readonly isFallbackAdapter: boolean };
      readonly features: readonly string[];
      readonly wgslLanguageFeatures: readonly string[];
      /** Every config the adapter lists (any component type); the engine uses the i8 → i32 ones. */
      readonly subgroupMatrixConfigs: readonly SubgroupMatrixConfig[];
      readonly subgroupMinSize: number;
      readonly subgroupMaxSize: number;
      readonly variants: readonly VariantAvailability[];
    };

interface AdapterInfoExtra {
  readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  readonly subgroupMinSize?: number;
  readonly subgroupMaxSize?: number;
}

export async function inspectBackend(kind: GpuBackendKind): Promise<BackendReport> {
  let ctx: GpuContext | undefined;
  try {
    const { gpu, adapter } = await openAdapter(kind);
    const info = adapter.info as GPUAdapterInfo & AdapterInfoExtra;
    ctx = await GpuContext.create(adapter, gpu.wgslLanguageFeatures, () => {}, kind);
    const caps = ctx.caps;
    return {
      kind,
      ok: true,
      adapter: {
        vendor: info.vendor ?? "",
        architecture: info.architecture ?? "",
        description: info.description ?? "",
        isFallbackAdapter: info.isFallbackAdapter === true,
      },
      features: [...adapter.features].map(String).sort(),
      wgslLanguageFeatures: [...gpu.wgslLanguageFeatures].map(String).sort(),
      subgroupMatrixConfigs: (info.subgroupMatrixConfigs ?? []).map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K })),
      subgroupMinSize: info.subgroupMinSize ?? 0,
      subgroupMaxSize: info.subgroupMaxSize ?? 0,
      variants: allVariants(caps).map((v) => ({ name: v.name, family: v.family, problem: v.unsupported(caps) })),
    };
  } catch (e) {
    const line = firstLine(errorText(e));
    return { kind, ok: false, reason: line.startsWith(`${kind}:`) ? line.slice(kind.length + 1).trim() : line };
  } finally {
    ctx?.destroy();
  }
}
