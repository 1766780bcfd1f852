// The console's stylesheet and its one small script, served from /console.css and /console.js
// (kept as strings so `tsc` alone builds everything; no CDN, no bundler), the favicon, and the chart
// library's files read from node_modules. The script shows times in the browser's zone, draws the
// charts, shows spinners on long forms and uploads the tracking spreadsheet; every page works
// from the server without it.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

/** A file of an installed package (the chart library), read once at start. */
export function vendorFile(path: string): Promise<Buffer> {
  return readFile(createRequire(import.meta.url).resolve(path));
}

/** An envelope with a check mark, in the console's colours. */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2330"/><path d="M6 10h20v13H6z" fill="none" stroke="#fff" stroke-width="2"/><path d="M6 10l10 8 10-8" fill="none" stroke="#fff" stroke-width="2"/><circle cx="24" cy="23" r="6" fill="#3b7d3b"/><path d="M21 23l2 2 4-4" fill="none" stroke="#fff" stroke-width="2"/></svg>`;

export const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f4f6f9}
a{color:#1f5fbf}
header{background:#1d2330;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:700;margin-right:.5rem}
header nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem;flex:1}
header nav a[aria-current]{text-decoration:underline}
header form{display:inline;margin:0}
header .who{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;font-size:.9rem}
.counter{display:inline-block;min-width:1.6rem;padding:.05rem .5rem;border-radius:1rem;background:#d11f2a;color:#fff;font-weight:700;text-align:center}
.counter.zero{background:#3b7d3b}
main{max-width:96rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
section,.card{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e6e9ef;vertical-align:top}
th{background:#eef1f6;white-space:nowrap}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;overflow-wrap:anywhere}
td{overflow-wrap:anywhere}
pre{background:#1d2330;color:#e8ecf3;padding:.7rem;border-radius:4px;overflow-x:auto;font-size:.82rem;white-space:pre-wrap;word-break:break-all}
form.inline{display:inline}
form.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:.3rem 0}
label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}
input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid #b9c1cf;border-radius:4px;max-width:100%}
input[type=text],input[type=search],input[type=password],input[type=email]{min-width:14rem}
button{background:#1f5fbf;color:#fff;border-color:#1f5fbf;cursor:pointer}
button.secondary{background:#fff;color:#1f5fbf}
button.danger{background:#b3261e;border-color:#b3261e}
.flash{padding:.6rem .9rem;border-radius:4px;margin:0 0 1rem}
.flash.ok{background:#e3f4e3;border:1px solid #9ccf9c}
.flash.error{background:#fde8e7;border:1px solid #e9a19c}
.flash.warn{background:#fff5d6;border:1px solid #e6cb6f}
.ok{color:#2f7a2f}.bad{color:#b3261e;font-weight:600}.muted{color:#6a7386}.advice{margin-bottom:.2em}
.status-delivered{color:#2f7a2f}.status-failed,.status-bounced,.status-complained{color:#b3261e;font-weight:600}.status-deferred{color:#a66300}
.status-suppressed,.status-unsubscribed{color:#6a7386;font-weight:600}
.banner{padding:.6rem .9rem;border-radius:4px;margin:0 0 1rem}
.banner.warn{background:#fff5d6;border:1px solid #e6cb6f}
pre.raw{max-height:70vh;overflow:auto;background:#fbfcfe;color:#1d2330;border:1px solid #dde2ea}
.spinner{display:inline-block;width:1.1rem;height:1.1rem;border:3px solid #b9c1cf;border-top-color:#1f5fbf;border-radius:50%;animation:spin .8s linear infinite;vertical-align:middle}
.spinner[hidden]{display:none}
@keyframes spin{to{transform:rotate(360deg)}}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dl.kv dt{color:#6a7386}dl.kv dd{margin:0;word-break:break-word}
.signin{max-width:26rem;margin:3rem auto}
.signin input{width:100%}
figure.chart{margin:0}
figure.chart figcaption{font-weight:600;margin-bottom:.4rem}
.chart-area{min-height:1rem;overflow:hidden}
.uplot .u-legend{font-size:.85rem}
time{white-space:nowrap}
td.mono a,.mono a{word-break:keep-all;white-space:nowrap}
@media (max-width:40rem){
  /* Tables become stacked cards: every cell on its own line, labelled by its column. */
  .table-wrap table,.table-wrap thead,.table-wrap tbody,.table-wrap tr,.table-wrap td{display:block;width:100%}
  .table-wrap thead{position:absolute;left:-9999px}
  .table-wrap tr{border:1px solid #dde2ea;border-radius:6px;margin:0 0 .6rem;padding:.3rem .5rem;background:#fff}
  .table-wrap td{border:0;padding:.15rem 0}
  .table-wrap td[data-label]::before{content:attr(data-label) ": ";color:#6a7386;font-size:.8rem}
  header nav{flex-basis:100%}
  main{padding:.6rem}
  input[type=text],input[type=search],input[type=password],input[type=email]{min-width:0;width:100%}
  form.row>*{flex:1 1 100%}
  dl.kv{grid-template-columns:1fr}
  dl.kv dt{margin-top:.4rem}
}
`;

export const JS = `
'use strict';
// Times: the server writes UTC; show them in the browser's zone, UTC on hover.
document.querySelectorAll('time[datetime]').forEach(function (t) {
  var d = new Date(t.getAttribute('datetime'));
  if (!isNaN(d)) t.textContent = d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
});
// Narrow screens: each cell carries its column's name, shown when tables stack.
document.querySelectorAll('.table-wrap table').forEach(function (table) {
  var heads = Array.prototype.map.call(table.querySelectorAll('thead th'), function (th) { return th.textContent; });
  table.querySelectorAll('tbody tr').forEach(function (tr) {
    Array.prototype.forEach.call(tr.children, function (td, i) { if (heads[i] && !td.hasAttribute('data-label')) td.setAttribute('data-label', heads[i]); });
  });
});
// Charts (uPlot, from /vendor/): lines told apart by dash pattern and label, not colour alone.
var STYLES = [['#1f5fbf', []], ['#2f7a2f', []], ['#a66300', [6, 4]], ['#b3261e', [2, 3]], ['#d96b00', [8, 3, 2, 3]], ['#6b2fa0', [12, 4]]];
function drawCharts() {
  if (typeof uPlot === 'undefined') return;
  document.querySelectorAll('figure.chart').forEach(function (fig) {
    var data = JSON.parse(fig.querySelector('.chart-data').textContent);
    var area = fig.querySelector('.chart-area');
    var width = Math.max(280, area.clientWidth || fig.clientWidth || 600);
    var series = [{}].concat(data.lines.map(function (l, i) {
      return { label: l.label, stroke: STYLES[i % STYLES.length][0], dash: STYLES[i % STYLES.length][1], width: 2, points: { show: data.time.length <= 31 } };
    }));
    new uPlot({ width: width, height: 240, series: series, axes: [{}, { label: 'recipients' }], scales: { x: { time: true } } },
      [data.time.map(function (t) { return t / 1000; })].concat(data.lines.map(function (l) { return l.values; })), area);
    fig.setAttribute('data-drawn', 'true');
  });
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', drawCharts); else drawCharts();
// Long operations: show the form's spinner while the browser waits for the server's answer.
document.addEventListener('submit', function (e) {
  var f = e.target;
  if (!f || !f.hasAttribute('data-spinner')) return;
  var s = f.querySelector('.spinner');
  if (s) s.hidden = false;
});
// The tenant selector switches on change.
document.querySelectorAll('select[data-autosubmit]').forEach(function (el) {
  el.addEventListener('change', function () { el.form.submit(); });
});
// Uploads (tracking spreadsheet, suppression list): the file goes to the server as the request
// body, then the preview page (data-next) opens. Without a file chosen, a form with a text field
// (the pasted list) is sent as an ordinary form.
document.querySelectorAll('form[data-upload]').forEach(function (up) {
  up.addEventListener('submit', function (e) {
    var input = up.querySelector('input[type=file]');
    var file = input && input.files && input.files[0];
    var out = document.getElementById(up.getAttribute('data-status'));
    if (!file && up.querySelector('textarea')) return;
    e.preventDefault();
    if (!file) { out.textContent = 'Choose a CSV or XLSX file first.'; return; }
    out.textContent = 'Checking ' + file.name + '…';
    fetch(up.action + '?filename=' + encodeURIComponent(file.name), {
      method: 'POST', body: file, credentials: 'same-origin',
      headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': up.querySelector('input[name=_csrf]').value },
    }).then(function (r) {
      if (r.ok) { location.href = up.getAttribute('data-next'); return; }
      return r.text().then(function (t) { throw new Error(t || ('HTTP ' + r.status)); });
    }).catch(function (err) {
      var s = up.querySelector('.spinner'); if (s) s.hidden = true;
      out.textContent = 'Upload failed: ' + err.message;
    });
  });
});
`;
