/**
 * A small SVG bar chart of benchmark ratios (stowage time / peer time): one
 * bar per row, a line at 1.0 (parity), green at or under the target, red
 * over it. No dependencies; the output is a standalone SVG file.
 *
 * @module
 */

/** One bar. */
export interface Bar {
  /** The row's label. */
  label: string;
  /** stowage / peer; below 1 is faster than the peer. */
  ratio: number;
  /** The ratio to reach (bars above it are red). */
  target: number;
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The chart as SVG text. */
export function ratioChart(bars: Bar[], title: string): string {
  const rowH = 18;
  const labelW = 330;
  const plotW = 360;
  const top = 34;
  const height = top + bars.length * rowH + 30;
  const max = Math.max(2, ...bars.map((b) => Math.min(b.ratio, 5)));
  const x = (r: number) => labelW + (Math.min(r, max) / max) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 70}" height="${height}" ` +
    `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const fill = b.ratio <= b.target ? "#3a9d5d" : "#c8553d";
    out.push(
      `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(b.ratio) - labelW).toFixed(1)}" ` +
        `height="${rowH - 6}" fill="${fill}"/>`,
      `<text x="${(x(b.ratio) + 4).toFixed(1)}" y="${y + 12}">${b.ratio.toFixed(2)}×</text>`,
    );
  });
  const one = x(1).toFixed(1);
  const bottom = top + bars.length * rowH;
  out.push(
    `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${bottom + 4}" stroke="#333" ` +
      `stroke-dasharray="3,3"/>`,
    `<text x="${one}" y="${bottom + 18}" text-anchor="middle">1.0× (parity)</text>`,
    `<text x="${labelW}" y="${bottom + 18}">0</text>`,
    `<text x="${labelW + plotW}" y="${bottom + 18}" text-anchor="end">${max}×</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}
