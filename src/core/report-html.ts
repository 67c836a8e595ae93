import type { Bin, ReportJson } from './report.js';
import { barChart, type ChartBar, escapeHtml as esc } from './report-svg.js';

/**
 * report.html from report.json (no I/O): one file, nothing fetched (a
 * Content-Security-Policy forbids any request), charts as inline SVG with
 * their numbers in a table beside each (what a screen reader reads), laid
 * out in one column on a phone and two on a wide screen, printable (no
 * backgrounds, charts kept whole on a page), numbers in the locale's
 * separators.
 */
export interface HtmlSettings {
  locale: string;
  title: string;
}

const CSS = `
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--bar:#2f6fb3;--bar2:#c4462b;--line:#d0d7de}
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;padding:1rem;max-width:72rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.6rem}
.card{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .7rem}
.card b{display:block;font-size:1.3rem;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:.85rem}
figure{margin:0 0 1rem;display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem;align-items:start;break-inside:avoid}
figcaption{grid-column:1/-1;font-weight:600}
svg{width:100%;height:auto;display:block}
.wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.2rem .4rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.id{overflow-wrap:anywhere}
@media (max-width:40rem){figure{grid-template-columns:1fr}body{padding:.6rem}}
@media print{body{max-width:none;font-size:11pt}h2{break-after:avoid}.card,figure,table{break-inside:avoid}a{color:inherit}}
`;

export function renderReportHtml(r: ReportJson, s: HtmlSettings): string {
  const f = formatters(s.locale);
  const parts = [
    `<!DOCTYPE html><html lang="${esc(s.locale)}"><head><meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width,initial-scale=1">`,
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${esc(s.title)}</title><style>${CSS}</style></head><body>`,
    `<header><h1>${esc(s.title)}</h1><p class="meta">${esc(r.tool)} · ${f.n(r.sources.length)} ${r.sources.length === 1 ? 'file' : 'files'}: ${esc(sourcesLine(r.sources))}</p></header><main>`,
    countsSection(r, f),
    concentrationSection(r, f),
    scoresSection(r, f),
    sinceSection(r, f),
    errorsSection(r, f),
    shardsSection(r, f),
    '</main></body></html>\n',
  ];
  return parts.join('');
}

export interface Fmt {
  n(v: number): string;
  d(v: number, digits?: number): string;
  pct(v: number): string;
  sci(v: number): string;
}

function formatters(locale: string): Fmt {
  const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const pct = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 2 });
  const dec = new Map<number, Intl.NumberFormat>();
  const sig = new Intl.NumberFormat(locale, { maximumSignificantDigits: 4 });
  const sci = new Intl.NumberFormat(locale, { notation: 'scientific', maximumSignificantDigits: 3 });
  return {
    n: (v) => whole.format(v),
    d: (v, digits = 3) => {
      let fmt = dec.get(digits);
      if (!fmt) {
        fmt = new Intl.NumberFormat(locale, { maximumFractionDigits: digits });
        dec.set(digits, fmt);
      }
      return fmt.format(v);
    },
    pct: (v) => pct.format(v),
    sci: (v) => (v !== 0 && Math.abs(v) < 0.001 ? sci.format(v) : sig.format(v)),
  };
}

function sourcesLine(sources: string[]): string {
  if (sources.length <= 3) return sources.join(', ');
  return `${sources.slice(0, 2).join(', ')} … ${sources[sources.length - 1]}`;
}

function card(value: string, label: string): string {
  return `<div class="card"><b>${value}</b><span>${esc(label)}</span></div>`;
}

function table(head: string[], rows: string[][], numeric: boolean[]): string {
  const th = head.map((h, i) => `<th scope="col"${numeric[i] ? ' class="n"' : ''}>${esc(h)}</th>`).join('');
  const body = rows
    .map(
      (row) => `<tr>${row.map((c, i) => `<td class="${numeric[i] ? 'n' : 'id'}">${c}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<div class="wrap"><table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** A chart and the table of its numbers side by side (stacked on a phone). */
function figure(id: string, caption: string, bars: ChartBar[], tableHtml: string, f: Fmt): string {
  return `<figure id="${id}"><figcaption id="${id}-t">${esc(caption)}</figcaption>${barChart(bars, `${id}-t`, f)}${tableHtml}</figure>`;
}

function countsSection(r: ReportJson, f: Fmt): string {
  const c = r.counts;
  const key = r.keyField ?? 'key';
  const cards = [
    card(f.n(c.lines), 'lines'),
    card(f.n(c.keys), `distinct keys (${key})`),
    card(f.n(c.okLines), 'lines with recommendations'),
    card(f.n(c.errorLines), 'error lines'),
    card(f.n(c.distinctItems), `distinct ${r.idField === 'userId' ? 'users' : 'items'} recommended`),
    card(f.n(c.slots), 'recommendation slots'),
  ];
  if (c.invalid > 0) cards.push(card(f.n(c.invalid), 'invalid lines'));
  if (c.repeatedKeyLines > 0) cards.push(card(f.n(c.repeatedKeyLines), 'lines repeating a key'));
  if (r.missing) cards.push(card(f.n(r.missing.missingKeys), 'input keys with no output line'));
  if (r.catalog) cards.push(card(f.pct(r.catalog.coverage), 'of the catalog recommended'));
  const ipl = c.itemsPerLine;
  const rows: string[][] = [
    ['lines', f.n(c.lines)],
    ['blank lines', f.n(c.blank)],
    ['invalid lines', f.n(c.invalid)],
    ['lines with recommendations', f.n(c.okLines)],
    ['error lines', f.n(c.errorLines)],
    ['distinct keys', f.n(c.keys)],
    ['lines repeating a key', f.n(c.repeatedKeyLines)],
    ['lines without a key', f.n(c.keylessLines)],
    [
      'ids per line: min / median / max',
      ipl ? `${f.n(ipl.min)} / ${f.n(ipl.median)} / ${f.n(ipl.max)}` : '–',
    ],
    ['ids per line: mean', ipl ? f.d(ipl.mean, 2) : '–'],
    ['distinct ids recommended', f.n(c.distinctItems)],
  ];
  if (r.missing)
    rows.push(
      ['input keys', f.n(r.missing.inputKeys)],
      ['input keys with no output line', f.n(r.missing.missingKeys)],
    );
  if (r.catalog)
    rows.push(
      ['catalog items', f.n(r.catalog.items)],
      ['catalog items recommended', `${f.n(r.catalog.recommended)} (${f.pct(r.catalog.coverage)})`],
      ['recommended ids not in the catalog', f.n(r.catalog.notInCatalog)],
    );
  let extra = '';
  if (r.missing && r.missing.sample.length > 0)
    extra += `<p class="meta">Missing, the first ${f.n(r.missing.sample.length)}: ${esc(r.missing.sample.join(', '))}</p>`;
  if (r.catalog && r.catalog.notInCatalogSample.length > 0)
    extra += `<p class="meta">Not in the catalog, the first ${f.n(r.catalog.notInCatalogSample.length)}: ${esc(r.catalog.notInCatalogSample.join(', '))}</p>`;
  return `<section><h2>Counts</h2><div class="cards">${cards.join('')}</div>${table(['figure', 'value'], rows, [false, true])}${extra}</section>`;
}

function concentrationSection(r: ReportJson, f: Fmt): string {
  const c = r.concentration;
  const what = r.idField === 'userId' ? 'users' : 'items';
  const bars: ChartBar[] = c.top.map((t) => ({
    label: t.title ? `${t.id} · ${t.title}` : t.id,
    value: t.count,
  }));
  const rows = c.top.map((t, i) => [f.n(i + 1), esc(t.id), esc(t.title ?? ''), f.n(t.count), f.pct(t.share)]);
  const summary = [
    card(f.d(c.gini, 3), `Gini of exposure over the ${what} recommended`),
    card(f.pct(c.top1PercentShare), `of all slots taken by the top 1% (${f.n(c.top1PercentItems)} ${what})`),
  ];
  if (c.giniCatalog !== null) summary.push(card(f.d(c.giniCatalog, 3), 'Gini over the whole catalog'));
  const chart =
    c.top.length === 0
      ? '<p>No recommendations.</p>'
      : figure(
          'top-items',
          `The ${f.n(c.top.length)} most recommended ${what}`,
          bars,
          table(['#', 'id', 'title', 'count', 'share'], rows, [true, false, false, true, true]),
          f,
        );
  return `<section><h2>Concentration</h2><div class="cards">${summary.join('')}</div>${chart}</section>`;
}

function binLabel(b: Bin, f: Fmt): string {
  if (b.from === null) return `< ${f.sci(b.to as number)}`;
  if (b.to === null) return `≥ ${f.sci(b.from)}`;
  return `${f.sci(b.from)} – ${f.sci(b.to)}`;
}

function scoresSection(r: ReportJson, f: Fmt): string {
  if (!r.scores) return '';
  const figs = r.scores.ranks.map((rk) => {
    const bars = rk.histogram.map((b) => ({ label: binLabel(b, f), value: b.count }));
    const q = Object.entries(rk.quantiles).map(([k, v]) => [esc(k), Number.isFinite(v) ? f.sci(v) : '–']);
    const rows = [
      ...rk.histogram.map((b) => [esc(binLabel(b, f)), f.n(b.count)]),
      ['count', f.n(rk.count)],
      ['min', f.sci(rk.min)],
      ['mean', f.sci(rk.mean)],
      ['max', f.sci(rk.max)],
      ...q,
    ];
    const name = rk.rank === 'last' ? 'the last rank' : `rank ${rk.rank}`;
    return figure(
      `scores-${rk.rank}`,
      `Scores at ${name}`,
      bars,
      table(['score', 'lines'], rows, [false, true]),
      f,
    );
  });
  return `<section><h2>Scores</h2><p class="meta">Quantiles: ${esc(r.scores.method)}.</p>${figs.join('')}</section>`;
}

function sinceSection(r: ReportJson, f: Fmt): string {
  const s = r.since;
  if (!s) return '';
  const cards = [
    card(f.n(s.newKeys), 'new keys'),
    card(f.n(s.goneKeys), 'gone keys'),
    card(f.n(s.changedKeys), 'changed lists'),
    card(f.n(s.unchangedKeys), 'unchanged lists'),
    card(s.meanJaccard === null ? '–' : f.d(s.meanJaccard, 3), `mean Jaccard at ${s.k}`),
  ];
  const bars = s.jaccardHistogram.map((b) => ({
    label: `${f.d(b.from ?? 0, 1)} – ${f.d(b.to ?? 1, 1)}`,
    value: b.count,
  }));
  const rows = s.jaccardHistogram.map((b) => [`${f.d(b.from ?? 0, 1)} – ${f.d(b.to ?? 1, 1)}`, f.n(b.count)]);
  return `<section><h2>Since ${esc(s.prev)}</h2><div class="cards">${cards.join('')}</div>${figure('jaccard', `Overlap of the first ${s.k} ids, keys in both runs`, bars, table(['Jaccard', 'keys'], rows, [false, true]), f)}</section>`;
}

function errorsSection(r: ReportJson, f: Fmt): string {
  if (r.errors.length === 0 && r.invalidSamples.length === 0) return '';
  let html = '<section><h2>Errors</h2>';
  if (r.errors.length > 0)
    html += table(
      ['message', 'lines'],
      r.errors.map((e) => [esc(e.message), f.n(e.count)]),
      [false, true],
    );
  if (r.invalidSamples.length > 0)
    html += `<h3>Invalid lines (the first ${f.n(r.invalidSamples.length)})</h3>${table(
      ['file', 'line', 'reason'],
      r.invalidSamples.map((x) => [esc(x.file), f.n(x.line), esc(x.reason)]),
      [false, true, false],
    )}`;
  return `${html}</section>`;
}

function shardsSection(r: ReportJson, f: Fmt): string {
  if (r.shards.length === 0) return '';
  const bars = r.shards.map((s) => ({ label: shortName(s.file), value: s.lines, second: s.errorLines }));
  const rows = r.shards.map((s) => [
    esc(s.file),
    f.n(s.lines),
    f.n(s.okLines),
    f.n(s.errorLines),
    f.n(s.invalid),
  ]);
  return `<section><h2>Per file</h2>${figure(
    'shards',
    'Lines per output file (errors in the second colour)',
    bars,
    table(['file', 'lines', 'with recommendations', 'errors', 'invalid'], rows, [
      false,
      true,
      true,
      true,
      true,
    ]),
    f,
  )}</section>`;
}

function shortName(file: string): string {
  const parts = file.split('/');
  return parts.slice(-2).join('/');
}
