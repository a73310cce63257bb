// Numbers as people read them.

export function rate(perSecond: number | null | undefined): string {
  if (perSecond == null || !isFinite(perSecond)) return "–";
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)}/s`;
}

export function count(n: number): string {
  return n.toLocaleString("en");
}

export function bytes(n: number | null | undefined): string {
  if (n == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function ms(n: number | null | undefined): string {
  if (n == null) return "–";
  if (n >= 60_000) return `${(n / 60_000).toFixed(1)} min`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)} s`;
  return `${n} ms`;
}

export function time(msSinceEpoch: number | null | undefined): string {
  if (msSinceEpoch == null) return "–";
  return new Date(msSinceEpoch).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function percent(share: number | null | undefined): string {
  if (share == null || !isFinite(share)) return "–";
  return `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`;
}

export function short(digest: string): string {
  return digest.slice(0, 12);
}
