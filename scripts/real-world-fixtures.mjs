#!/usr/bin/env node
/**
 * Writes test/fixtures/real-world/: small files shaped like the ones users
 * really have (Excel exports from other locales, CRM dumps, the AWS docs'
 * own examples, files that are not text at all). The bytes are spelled out
 * here so that each case can be read and reproduced; the files are
 * committed, and test/stages/prepare/real-world.test.ts holds what every command does
 * with each. Run: node scripts/real-world-fixtures.mjs
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, gzipSync } from 'node:zlib';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'real-world');
mkdirSync(dir, { recursive: true });

const write = (name, bytes) => writeFileSync(join(dir, name), bytes);
const crlf = (lines) => `${lines.join('\r\n')}\r\n`;
const BOM = '\uFEFF';

/** windows-1252 bytes 0x80-0x9F for the characters used here (the rest is Latin-1). */
const CP1252_HIGH = { '€': 0x80, '„': 0x84, '’': 0x92, '“': 0x93, '”': 0x94, '–': 0x96, '™': 0x99 };

function cp1252(text) {
  const out = Buffer.alloc(text.length);
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const c = text.charCodeAt(i);
    if (CP1252_HIGH[ch] !== undefined) out[i] = CP1252_HIGH[ch];
    else if (c < 256 && (c < 0x80 || c > 0x9f)) out[i] = c;
    else throw new Error(`no windows-1252 byte for U+${c.toString(16)}`);
  }
  return out;
}

function utf16le(text) {
  return Buffer.from(text, 'utf16le');
}

function utf16be(text) {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1], le[i]];
  return le;
}

/** CRC-32 (zlib.crc32 is Node 22 and later). */
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A valid zip of the given entries (deflated), as an .xlsx or any archive begins. */
function zip(entries) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const [name, text] of entries) {
    const data = deflateRawSync(Buffer.from(text));
    const nameBuf = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc32(Buffer.from(text)), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(Buffer.byteLength(text), 22);
    local.writeUInt16LE(nameBuf.length, 26);
    parts.push(local, nameBuf, data);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(crc32(Buffer.from(text)), 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(Buffer.byteLength(text), 24);
    cd.writeUInt16LE(nameBuf.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

// --- Excel exports --------------------------------------------------------

// Excel "CSV (Trennzeichen-getrennt)" in a German locale: windows-1252, ';', CRLF,
// a quoted field holding ';' and a line break.
const kunden = [
  'Kunden-Nr;E-Mail;Vorname;Nachname;Newsletter;Geburtsdatum',
  '10001;anna.mueller@example.de;Anna;Müller;Ja;05.01.1990',
  '10002;"jürgen;privat@example.de";Jürgen;"Weiß\r\n(Büro)";Nein;17.03.1985',
  '10003;chloe@example.fr;Chloé;Dubois;Ja;01.12.1979',
  '10001;anna.mueller@example.de;Anna;Müller;Ja;05.01.1990',
];
write('excel-de-semicolon-windows-1252.csv', cp1252(crlf(kunden)));
// The same, saved as "CSV UTF-8": a BOM, still ';' in this locale.
write('excel-de-csv-utf8-bom.csv', Buffer.from(BOM + crlf(kunden)));
// Excel's sep= line names the delimiter (and is not the header).
write(
  'excel-sep-line.csv',
  Buffer.from(crlf(['sep=;', 'Customer ID;Email;Country', '501;a@example.com;DE', '502;b@example.com;AT'])),
);
// Excel "Unicode text": UTF-16 LE with a BOM, TAB-separated.
write(
  'excel-unicode-text.txt',
  utf16le(`${BOM}${crlf(['user_id\tname\tcity', 'u-1\tZoë\tKöln', 'u-2\t李雷\t北京', 'u-3\tŁukasz\tŁódź'])}`),
);
write('utf-16be-bom.csv', utf16be(`${BOM}${crlf(['user_id,name', 'u-7,Åsa', 'u-8,Øystein'])}`));
// UTF-16 LE without its BOM: NUL beside every character.
write('utf-16le-no-bom.txt', utf16le(crlf(['user_id', 'u1', 'u2'])));
// A plain windows-1252 list with the euro sign and curly quotes (bytes 0x80-0x9F).
write(
  'windows-1252-c1-bytes.csv',
  cp1252(crlf(['sku;title', 'A-1;Preis 5€', 'A-2;„Beste Wahl“', 'A-3;Tom’s Tasse – groß', 'A-4;Marke™'])),
);

// --- One-column lists -----------------------------------------------------

write('one-column-customer_id.csv', Buffer.from('customer_id\n10001\n10002\n10003\n'));
write('one-column-Customer-ID.csv', Buffer.from('Customer ID\r\n10001\r\n10002\r\n'));
write('one-column-sku.csv', Buffer.from('sku\nSKU-1\nSKU-2\n'));
write('one-column-Email.csv', Buffer.from('Email\nanna@example.de\nbob@example.com\n'));
write('one-column-no-header.txt', Buffer.from('10001\n10002\n10003\n'));
write('one-column-unknown-header.txt', Buffer.from('Kundennummer\n10001\n10002\n'));
write('emails-only.txt', Buffer.from('anna@example.de\nbob@example.com\n'));

// --- Not text -------------------------------------------------------------

const xlsx = zip([
  ['[Content_Types].xml', '<?xml version="1.0"?><Types/>'],
  ['_rels/.rels', '<?xml version="1.0"?><Relationships/>'],
  ['xl/workbook.xml', '<?xml version="1.0"?><workbook/>'],
  ['xl/worksheets/sheet1.xml', '<?xml version="1.0"?><worksheet/>'],
]);
write('workbook.xlsx', xlsx);
write('workbook-saved-as.csv', xlsx);
write('archive.zip', zip([['users.csv', 'user_id\nu1\n']]));
write(
  'report.pdf',
  Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n', 'latin1'),
);
write(
  'old-excel.xls',
  Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(504)]),
);
write('gzip-under-csv-name.csv', gzipSync('user_id,email\nu1,a@example.com\nu2,b@example.com\n'));

// --- Dates ----------------------------------------------------------------

write(
  'interactions-mixed-dates.csv',
  Buffer.from(
    [
      'USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE',
      'u1,i1,1767571200,click', // 2026-01-05T00:00:00Z
      'u2,i1,1764547200000,click', // 2025-12-01 in milliseconds
      'u3,i2,2026-01-05T10:00:00Z,purchase',
      'u4,i2,2026-01-05,click',
      'u5,i3,05.01.2026 10:00,click',
      'u6,i3,March 7 2026,click',
      'u7,i4,2026-02-30,click',
      'u8,i4,2026-01-05 10:00:00+02:00,click',
      '',
    ].join('\n'),
  ),
);

// --- JSON that is not JSON Lines (the AWS docs print them so) ----------------

write(
  'aws-docs-objects-on-one-line.json',
  Buffer.from('{"userId": "4638"} {"userId": "663"} {"userId": "3384"}\n'),
);
write('aws-docs-popularity-count.json', Buffer.from('{}\n{"itemId": "105"}\n{"itemId": "41"}\n'));
write(
  'json-array.json',
  Buffer.from(
    '[\n  {"userId": "u1", "email": "a@example.com"},\n  {"userId": "u2", "email": "b@example.com"}\n]\n',
  ),
);
write('json-array-of-ids.json', Buffer.from('["u1","u2","u3"]'));
write(
  'json-pretty-objects.json',
  Buffer.from('{\n  "itemId": "i1",\n  "title": "One"\n}\n{\n  "itemId": "i2",\n  "title": "Two"\n}\n'),
);

// --- Catalogs -------------------------------------------------------------

write(
  'catalog-gift-card.csv',
  Buffer.from(crlf(['ITEM_ID,TITLE,PRICE', 'i1,Blue mug,12.50', ',Gift card,25.00', 'i2,Red mug,12.50'])),
);
write(
  'catalog-semicolon-windows-1252.csv',
  cp1252(crlf(['ITEM_ID;TITLE;PRICE', 'i1;Tasse "Blau";12,50 €', 'i2;Müsli-Schale;8,00 €'])),
);

// --- Small quirks ---------------------------------------------------------

write('bom-crlf.csv', Buffer.from(`${BOM}${crlf(['user_id,segment', 'u1,a', 'u2,b'])}`));
write(
  'header-with-spaces.csv',
  Buffer.from(' Customer ID , E-Mail \n 501 , a@example.com \n 502 , b@example.com \n'),
);
write('duplicate-header.csv', Buffer.from('user_id,name,user_id\nu1,Anna,x1\nu2,Bob,x2\n'));
write('trailing-delimiters.csv', Buffer.from(crlf(['user_id;name;', 'u1;Anna;', 'u2;Bob;;', 'u3;Cleo'])));
write('quoted-header.csv', Buffer.from('"User ID","E-Mail"\n"u1","a@example.com"\n"u2","b@example.com"\n'));
write('empty.csv', Buffer.alloc(0));
write('header-only.csv', Buffer.from('user_id,email\r\n'));
write('ambiguous-delimiter.csv', Buffer.from('a,b;c\n1,2;3\n'));

// --- CRM dumps --------------------------------------------------------------

write(
  'shopify-customers.csv',
  Buffer.from(
    crlf([
      'Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address City,Default Address Country Code,Total Spent,Total Orders,Note,Tax Exempt,Tags',
      '7012345678901,Anna,Müller,anna@example.de,yes,,"Hauptstraße 1, Hinterhaus",Berlin,DE,120.50,3,"likes ""blue"" mugs",no,"vip, newsletter"',
      '7012345678902,Bob,Smith,bob@example.com,no,Acme Inc.,1 Main St,Springfield,US,0.00,0,,no,',
      '7012345678903,Chloé,Dubois,chloe@example.fr,yes,,"12 rue de la Paix",Paris,FR,89.90,1,"second line\nof the note",no,newsletter',
    ]),
  ),
);
write(
  'mailchimp-audience.csv',
  Buffer.from(
    crlf([
      'Email Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS',
      'anna@example.de,Anna,Müller,,+49 30 123456,01/05,2,"2026-01-05 09:12:01",,"2026-01-05 09:13:00",203.0.113.5,,,,,,DE,,"2026-01-05 09:13:00",114582,a1b2c3d4e5,,"""VIP"""',
      'bob@example.com,Bob,Smith,,,,2,"2026-02-01 10:00:00",,"2026-02-01 10:01:00",198.51.100.7,,,,,,US,,"2026-02-01 10:01:00",114583,f6a7b8c9d0,,',
    ]),
  ),
);

// --- What a first new-user trial found read wrong --------------------------

// Ids past 2^53 in a JSON array of ids (JSON.parse rounds them).
write('json-array-big-numbers.json', Buffer.from('[12345678901234567890, 9007199254740993]'));
// YYYYMMDD in a TIMESTAMP column reads as epoch seconds in 1970; microseconds past 9999.
write(
  'interactions-yyyymmdd.csv',
  Buffer.from('USER_ID,TIMESTAMP\nu1,2026-01-05\nu2,20260105\nu3,1767225600000000\n'),
);
// Spreadsheet damage in the id column: the ' text marker, scientific notation, an error value, a zero-width space.
write(
  'excel-damaged-ids.csv',
  Buffer.from(
    "Customer ID;Email\r\n'6789012345;a@example.com\r\n6,78901E+09;b@example.com\r\n#N/A;c@example.com\r\n\u200b102;d@example.com\r\n103;e@example.com\r\n",
  ),
);
// Two exports joined with cat: the second header is a row.
write('concatenated-exports.csv', Buffer.from('customer_id\n101\n102\ncustomer_id\n201\n'));
// An HTML table saved with an .xls name (Excel opens it; it is not a spreadsheet file).
write(
  'html-saved-as.xls',
  Buffer.from(
    '<html>\r\n<body>\r\n<table>\r\n<tr><th>Customer ID</th></tr>\r\n<tr><td>101</td></tr>\r\n</table>\r\n</body>\r\n</html>\r\n',
  ),
);
// UTF-8 text with --encoding windows-1252 would become mojibake.
write('utf8-not-windows-1252.csv', Buffer.from('user_id,name\r\nmüller-1,x\r\nweiß-2,y\r\n'));
// Catalog ids padded with spaces, as spreadsheets keep them.
write('catalog-padded-ids.csv', Buffer.from('ITEM_ID,TITLE\n i1 ,Blue mug\n"i2 ",Red mug\n'));
// A header word over ids that are names, not numbers.
write('one-column-username.csv', Buffer.from('username\nalice\nbob\n'));
// Columns lined up with spaces (a printed report).
write('spaces-aligned.txt', Buffer.from('customer_id  name\n101          Anna\n102          Bob\n'));
// JSON Lines with a trailing comma on each line; a JSON array with a trailing comma.
write('json-lines-trailing-commas.jsonl', Buffer.from('{"userId":"1"},\n{"userId":"2"},\n'));
write('json-array-trailing-comma.json', Buffer.from('[\n  {"userId": "1"},\n  {"userId": "2"},\n]\n'));

// --- What a second new-user trial found ---------------------------------------

/** A one-byte encoding through TextDecoder's inverse: each character's byte, found by decoding all 256. */
function encodeOneByte(text, encoding) {
  const table = new Map();
  const d = new TextDecoder(encoding);
  for (let b = 0; b < 256; b++) table.set(d.decode(Uint8Array.of(b)), b);
  return Buffer.from(
    [...text].map((ch) => {
      const b = table.get(ch);
      if (b === undefined) throw new Error(`no ${encoding} byte for ${ch}`);
      return b;
    }),
  );
}

// Real windows-1251 and windows-1252 text where a letter pair is, by chance, valid UTF-8 (Пё, É»).
write(
  'excel-ru-windows-1251.csv',
  encodeOneByte(
    crlf(['user_id;Имя;Місто', '30001;Иван;Київ', '30002;Пётр;Москва', '30003;Фёдор;Їржавець']),
    'windows-1251',
  ),
);
write(
  'excel-fr-windows-1252.csv',
  cp1252(crlf(['id_client;nom', '40001;«CAFÉ» de la Gare', '40002;Hélène'])),
);
// Mostly UTF-8 with one windows-1252 line: no one encoding reads it.
write(
  'mixed-utf8-and-windows-1252.csv',
  Buffer.concat([
    Buffer.from(
      'user_id,name\nu1,Zoë\nu2,Jürgen\nu3,Søren\nu4,Ångström\nu5,Çelik\nu6,Łukasz\nu7,Ñandú\nu8,Ève\n',
    ),
    cp1252('u9,Müller\n'),
  ]),
);
// A Salesforce formatted report: title lines over the table, footer lines under it.
write(
  'salesforce-report.csv',
  Buffer.from(
    '"Contacts Report"\n"As of 1/5/2026"\n\n"Contact ID","Name","Email"\n"003A1","Ann","a@example.com"\n"003A2","Bob","b@example.com"\n\n"Grand Totals (2 records)"\n"Confidential Information - Do Not Distribute"\n',
  ),
);
// PowerShell 5.1 Export-Csv writes a #TYPE line first.
write(
  'powershell-export.csv',
  Buffer.from(
    crlf([
      '#TYPE System.Management.Automation.PSCustomObject',
      '"user_id","Name"',
      '"u1","Ann"',
      '"u2","Bob"',
    ]),
  ),
);
// Redshift UNLOAD / Snowflake COPY: pipes, no header, \N for NULL.
write('redshift-unload.txt', Buffer.from('1001|Ann|2026-01-05\n1002|Bob|\\N\n\\N|Cleo|2026-01-07\n'));
// Null markers from databases and pandas in the id column.
write('null-markers.csv', Buffer.from('user_id\n1001\nNULL\nNone\nnan\nN/A\n(null)\n-\n1002\n'));
// pandas to_csv of an int column with gaps (floats), with its unnamed index column.
write('pandas-float-ids.csv', Buffer.from(',user_id,name\n0,1001.0,Ann\n1,,Bob\n2,1003.0,Cleo\n'));
// mParticle / Segment JSON with 64-bit ids JSON.parse would round.
write(
  'mparticle-users.jsonl',
  Buffer.from(
    '{"mpid":-8234567890123456789,"email":"a@example.com"}\n{"mpid":1234567890123456789,"email":"b@example.com"}\n',
  ),
);
// Timestamps as Excel serials, and as BigQuery prints them.
write('interactions-excel-serial.csv', Buffer.from('USER_ID,TIMESTAMP\nu1,46027.5\n'));
write(
  'interactions-bigquery.csv',
  Buffer.from('user_id,event_timestamp\nu1,2026-01-05 10:00:00 UTC\nu2,2025-12-31 23:59:59 UTC\n'),
);
// Item lists in cells: a JSON list, a Python list, commas without the separator.
write(
  'ranking-list-cells.csv',
  Buffer.from('user_id,items\nu1,"[""a"",""b""]"\nu2,"[\'c\', \'d\']"\nu3,"e, f"\nu4,g|h\n'),
);
// A catalog in JSON Lines with 64-bit EANs.
write(
  'catalog-eans.jsonl',
  Buffer.from(
    '{"ITEM_ID":"i1","TITLE":"Hoodie","EAN":4006381333931123456}\n{"ITEM_ID":"i2","TITLE":"Cap","EAN":4006381333931123457}\n',
  ),
);
// PowerShell 5.1 `ConvertTo-Json | Out-File -Encoding utf8`: a JSON array after a UTF-8 byte order mark.
write(
  'json-array-bom.json',
  Buffer.from(
    `${BOM}[\r\n    {\r\n        "userId":  "u1"\r\n    },\r\n    {\r\n        "userId":  "u2"\r\n    }\r\n]\r\n`,
  ),
);
