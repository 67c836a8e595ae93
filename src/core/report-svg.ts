/**
 * The report's charts as inline SVG text (no I/O, no script): horizontal
 * bars, one a row, labels left of them, so long ids and titles stay
 * readable at a phone's width; the viewBox scales the whole to its box.
 */

export interface ChartBar {
  label: string;
  value: number;
  /** A second value drawn over the first in the second colour (errors within lines). */
  second?: number;
}

const ROW = 22;
const WIDTH = 600;
const LABEL = 220;
/**
 * Characters a label keeps: 30 at 12 px ran past the chart's left edge for wide titles (an id and a
 * title in capitals), cut off in the browser. About 7 px a character on average: 26 fill LABEL.
 */
const LABEL_CHARS = 26;
const VALUE = 80;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Cuts a label to about n characters (the table beside the chart has it whole). */
function cut(label: string, n: number): string {
  const chars = [...label];
  return chars.length <= n ? label : `${chars.slice(0, n - 1).join('')}…`;
}

/** Bars scaled to the largest value; `labelledBy` is the caption's id. */
export function barChart(bars: ChartBar[], labelledBy: string, f: { n(v: number): string }): string {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const span = WIDTH - LABEL - VALUE;
  const height = Math.max(1, bars.length) * ROW + 4;
  const rows = bars.map((b, i) => {
    const y = i * ROW + 2;
    const w = b.value > 0 ? Math.max(1, (b.value / max) * span) : 0;
    const w2 = b.second && b.second > 0 ? Math.max(1, (b.second / max) * span) : 0;
    return (
      `<text x="${LABEL - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(cut(b.label, LABEL_CHARS))}</text>` +
      `<rect class="bar" x="${LABEL}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="#2f6fb3"></rect>` +
      (w2 > 0
        ? `<rect class="bar2" x="${LABEL}" y="${y + 3}" width="${w2.toFixed(1)}" height="${ROW - 6}" fill="#c4462b"></rect>`
        : '') +
      `<text x="${(LABEL + w + 4).toFixed(1)}" y="${y + 15}">${escapeHtml(f.n(b.value))}</text>`
    );
  });
  return `<svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="${labelledBy}" font-size="12" font-family="system-ui,sans-serif" fill="#1b1f24" preserveAspectRatio="xMinYMin meet">${rows.join('')}</svg>`;
}
