/** One line of a panel: its legend and its points (seconds since start, value). */
export interface Line {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
}

/** One chart of the dashboard image. */
export interface Panel {
  readonly title: string;
  /** The PromQL the panel of docs/grafana-dashboard.json charts (shown under the title). */
  readonly query: string;
  readonly unit: string;
  readonly lines: readonly Line[];
}

const COLORS = ['#3b82f6', '#ef4444', '#10b981', '#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#64748b'];
const W = 560;
const H = 250;
const PAD = { left: 52, right: 16, top: 56, bottom: 50 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function panelSvg(panel: Panel, x0: number, y0: number, duration: number): string {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const max = niceMax(Math.max(0, ...panel.lines.flatMap((l) => l.points.map((p) => p[1]))));
  const sx = (t: number) => x0 + PAD.left + (t / duration) * plotW;
  const sy = (v: number) => y0 + PAD.top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  parts.push(`<rect x="${x0 + 4}" y="${y0 + 4}" width="${W - 8}" height="${H - 8}" rx="6" fill="#111827" stroke="#374151"/>`);
  parts.push(`<text x="${x0 + 16}" y="${y0 + 24}" fill="#f9fafb" font-size="14" font-weight="600">${esc(panel.title)}</text>`);
  const query = panel.query.length > 92 ? `${panel.query.slice(0, 91)}…` : panel.query;
  parts.push(`<text x="${x0 + 16}" y="${y0 + 39}" fill="#9ca3af" font-size="9.5" font-family="monospace">${esc(query)}</text>`);
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    const y = sy(v);
    parts.push(`<line x1="${sx(0)}" y1="${y}" x2="${sx(duration)}" y2="${y}" stroke="#1f2937"/>`);
    parts.push(`<text x="${sx(0) - 6}" y="${y + 3}" fill="#9ca3af" font-size="10" text-anchor="end">${Number(v.toFixed(2))}</text>`);
  }
  for (let t = 0; t <= duration; t += 10) parts.push(`<text x="${sx(t)}" y="${y0 + H - PAD.bottom + 14}" fill="#9ca3af" font-size="10" text-anchor="middle">${t}s</text>`);
  parts.push(`<text x="${x0 + W - PAD.right}" y="${y0 + PAD.top - 2}" fill="#9ca3af" font-size="10" text-anchor="end">${esc(panel.unit)}</text>`);
  panel.lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    // Dashes on every other line: series that coincide (a ban and its disconnects) stay visible.
    const dash = i % 2 === 1 ? ' stroke-dasharray="6 4"' : '';
    if (line.points.length > 0) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${line.points.map(([t, v]) => `${sx(t).toFixed(1)},${sy(v).toFixed(1)}`).join(' ')}"/>`);
    const lx = x0 + 20 + (i % 3) * 178;
    const ly = y0 + H - 24 + Math.floor(i / 3) * 13;
    parts.push(`<rect x="${lx}" y="${ly - 4}" width="10" height="3" fill="${color}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}" fill="#d1d5db" font-size="10">${esc(line.label)}</text>`);
  });
  return parts.join('\n');
}

/** The panels in a grid of two columns, as one self-contained SVG. */
export function renderDashboard(title: string, subtitle: string, panels: readonly Panel[], duration: number): string {
  const rows = Math.ceil(panels.length / 2);
  const width = W * 2;
  const height = rows * H + 50;
  const body = panels.map((panel, i) => panelSvg(panel, (i % 2) * W, 50 + Math.floor(i / 2) * H, duration)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
<rect width="${width}" height="${height}" fill="#0b0f17"/>
<text x="16" y="24" fill="#f9fafb" font-size="16" font-weight="700">${esc(title)}</text>
<text x="16" y="42" fill="#9ca3af" font-size="11">${esc(subtitle)}</text>
${body}
</svg>
`;
}
