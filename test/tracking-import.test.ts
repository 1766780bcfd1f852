// The parcel import parser (src/tracking/import.ts): CSV/XLSX uploads from shops' CMS exports, checked row
// by row for the preview (header aliases, delimiters, encodings, codes, carriers, e-mails, phones, duplicates).
import { describe, expect, it } from 'vitest';
import writeXlsxFile from 'write-excel-file/node';
import { deflateRawSync } from 'node:zlib';
import { detectFormat, parseShipmentFile, zipUnpackedSize, type ImportRow } from '../src/tracking/import.js';

const RU = { defaultCountry: 'RU' };

/** A Russian Excel "CSV (разделители — точка с запятой)" export: BOM, CRLF, ";" and Cyrillic headers. */
const SHOP_CSV_LINES = [
  'Номер заказа;ФИО;Телефон;E-mail;Трек-номер;Служба доставки;Сумма заказа;Комментарий',
  '1001;Иванова Анна;8 (916) 123-45-67;anna@example.ru;ra 123456789 ru;Почта России;1 250,00 ₽;позвонить',
  '1002;Петров Пётр;12345;;80085412345678;;990;',
  '1003;ООО Ромашка;+7 495 123-45-67;;JJD0123456789;DHL;;',
  '1004;Сидоров;+7 903 555-12-34;sid@example.ru;RA123456789RU;;;',
  '',
  '1005;Без трека;+7 903 555-12-35;;;;;',
  '1006;"Кузнецов; Иван";;kuz@example;80085400000017;СДЭК;"2 000";',
  '1007;Смирнова;+7 916 765-43-21;;12345678;;;',
  '1008;Orlov;+7 916 000-11-22;orlov@example.com;80085412345679;;;',
];

const SHOP_CSV_ROWS: ImportRow[] = [
  {
    line: 2,
    shipment: {
      code: 'RA123456789RU',
      carrier: 'russian-post',
      name: 'Иванова Анна',
      email: 'anna@example.ru',
      phone: '8 (916) 123-45-67',
      phoneE164: '+79161234567',
      orderReference: '1001',
      orderSum: '1 250,00 ₽',
    },
    errors: [],
    warnings: [],
  },
  // An invalid phone keeps the parcel (seed 004: a placeholder, no SMS or calls); with no e-mail the buyer gets nothing.
  {
    line: 3,
    shipment: {
      code: '80085412345678',
      carrier: 'russian-post',
      name: 'Петров Пётр',
      phone: '12345',
      phoneProblem: '"12345" is not a valid phone number: no SMS or calls',
      orderReference: '1002',
      orderSum: '990',
    },
    errors: [],
    warnings: ['phone "12345" is not a valid phone number: no SMS or calls; with no e-mail either, the buyer gets no notices'],
  },
  {
    line: 4,
    shipment: {
      code: 'JJD0123456789',
      carrier: 'dhl',
      name: 'ООО Ромашка',
      phone: '+7 495 123-45-67',
      phoneProblem: '+74951234567 is a landline: no SMS or calls',
      orderReference: '1003',
    },
    errors: [],
    warnings: ['phone +74951234567 is a landline: no SMS or calls; with no e-mail either, the buyer gets no notices'],
  },
  { line: 5, errors: ['tracking code RA123456789RU is already on line 2'], warnings: [] },
  { line: 7, errors: ['tracking code is missing'], warnings: [] },
  { line: 8, errors: ['carrier "СДЭК" is not known (known: russian-post, dhl)', 'e-mail "kuz@example" is not valid'], warnings: [] },
  { line: 9, errors: ['carrier is missing'], warnings: [] },
  {
    line: 10,
    shipment: {
      code: '80085412345679',
      carrier: 'russian-post',
      name: 'Orlov',
      email: 'orlov@example.com',
      phone: '+7 916 000-11-22',
      phoneE164: '+79160001122',
      orderReference: '1008',
    },
    errors: [],
    warnings: [],
  },
];

function utf8(text: string, bom = false): Buffer {
  return Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text, 'utf8')]);
}

/** Windows-1251 for ASCII and Russian letters, as an old Excel or 1C export writes it. */
function cp1251(text: string): Buffer {
  const bytes = [...text].map((ch) => {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80) return c;
    if (c >= 0x410 && c <= 0x44f) return c - 0x410 + 0xc0;
    if (ch === 'Ё') return 0xa8;
    if (ch === 'ё') return 0xb8;
    throw new Error(`no cp1251 byte for ${ch}`);
  });
  return Buffer.from(bytes);
}

describe('parseShipmentFile, CSV', () => {
  it('reads a semicolon CSV with BOM, CRLF and Cyrillic headers, reporting each bad row by line', async () => {
    const result = await parseShipmentFile(utf8(SHOP_CSV_LINES.join('\r\n') + '\r\n', true), 'csv', RU);
    expect(result.format).toBe('csv');
    expect(result.fileErrors).toEqual([]);
    expect(result.missingColumns).toEqual([]);
    expect(result.columns).toEqual({
      orderReference: 'Номер заказа',
      name: 'ФИО',
      phone: 'Телефон',
      email: 'E-mail',
      code: 'Трек-номер',
      carrier: 'Служба доставки',
      orderSum: 'Сумма заказа',
    });
    expect(result.rows).toStrictEqual(SHOP_CSV_ROWS);
  });

  it('uses the default carrier for codes it cannot attribute', async () => {
    const csv = 'tracking,email\nJJD0123456789,a@example.com\n';
    const result = await parseShipmentFile(utf8(csv), 'csv', { ...RU, defaultCarrier: 'dhl' });
    expect(result.rows).toStrictEqual([
      { line: 2, shipment: { code: 'JJD0123456789', carrier: 'dhl', email: 'a@example.com' }, errors: [], warnings: [] },
    ]);
    const without = await parseShipmentFile(utf8(csv), 'csv', RU);
    expect(without.rows[0]?.errors).toEqual(['carrier is missing']);
  });

  it('rejects malformed codes and rows with neither e-mail nor phone', async () => {
    const csv = 'Tracking Code;Email;Phone\nAB-12;a@example.com;\nRA123456789RU;;\n';
    const result = await parseShipmentFile(utf8(csv), 'csv', RU);
    expect(result.rows).toStrictEqual([
      { line: 2, errors: ['tracking code "AB-12" is not valid: 8 to 40 latin letters and digits'], warnings: [] },
      { line: 3, errors: ['neither e-mail nor phone is given'], warnings: [] },
    ]);
  });

  it('names a missing code column and gives no row a shipment, but still checks rows for the preview', async () => {
    const csv = 'ФИО;Телефон\nИванова;+7 916 123-45-67\n';
    const result = await parseShipmentFile(utf8(csv), 'csv', RU);
    expect(result.missingColumns).toEqual(['code']);
    expect(result.fileErrors).toEqual(['the file has no tracking code column (a header such as "Tracking code", "Трек-номер" or "ШПИ")']);
    expect(result.rows).toStrictEqual([{ line: 2, errors: ['tracking code is missing'], warnings: [] }]);
  });

  it('needs an e-mail or a phone column', async () => {
    const csv = 'ШПИ;ФИО;Заметка\nRA123456789RU;Иванова;x\n';
    const result = await parseShipmentFile(utf8(csv), 'csv', RU);
    expect(result.missingColumns).toEqual(['email', 'phone']);
    expect(result.fileErrors).toHaveLength(1);
    expect(result.fileErrors[0]).toMatch(/neither an e-mail nor a phone column/);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]?.shipment).toBeUndefined();
  });

  it('decodes a Windows-1251 CSV (bytes that are not valid UTF-8)', async () => {
    const csv = 'ШПИ,Покупатель,Телефон,Перевозчик\r\nRA123456789RU,Ёлкина Дарья,89161234567,почта россии\r\n';
    const bytes = cp1251(csv);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
    const result = await parseShipmentFile(bytes, 'csv', RU);
    expect(result.fileErrors).toEqual([]);
    expect(result.columns).toEqual({ code: 'ШПИ', name: 'Покупатель', phone: 'Телефон', carrier: 'Перевозчик' });
    expect(result.rows).toStrictEqual([
      {
        line: 2,
        shipment: { code: 'RA123456789RU', carrier: 'russian-post', name: 'Ёлкина Дарья', phone: '89161234567', phoneE164: '+79161234567' },
        errors: [],
        warnings: [],
      },
    ]);
  });

  it('detects tab and comma delimiters, quoted fields and the "sep=" hint line', async () => {
    const tsv = await parseShipmentFile(utf8('Code\tPhone\tName\nRA123456789RU\t+79161234567\tA, B\n'), 'csv', RU);
    expect(tsv.rows[0]?.shipment).toEqual({ code: 'RA123456789RU', carrier: 'russian-post', phone: '+79161234567', phoneE164: '+79161234567', name: 'A, B' });
    const comma = await parseShipmentFile(utf8('code,name,phone\nRA123456789RU,"Smith; John",+79161234567\n'), 'csv', RU);
    expect(comma.rows[0]?.shipment?.name).toBe('Smith; John');
    // More commas than semicolons in the header: only the hint says the delimiter is ";".
    const hinted = await parseShipmentFile(utf8('sep=;\nТрек;Телефон;Адрес, город, улица, дом\nRA123456789RU;+79161234567;Москва, Тверская, 1\n'), 'csv', RU);
    expect(hinted.rows).toHaveLength(1);
    expect(hinted.rows[0]?.line).toBe(2);
    expect(hinted.rows[0]?.shipment?.code).toBe('RA123456789RU');
  });

  it('warns about a phone that is not mobile and still imports the row', async () => {
    const result = await parseShipmentFile(utf8('code;email;phone\nRA123456789RU;a@example.com;8 800 555-35-35\n'), 'csv', RU);
    expect(result.rows[0]?.errors).toEqual([]);
    expect(result.rows[0]?.warnings).toEqual(['phone +78005553535 is not a mobile number (toll free): no SMS or calls']);
    expect(result.rows[0]?.shipment?.phoneE164).toBeUndefined();
    expect(result.rows[0]?.shipment?.phoneProblem).toBe('+78005553535 is not a mobile number (toll free): no SMS or calls');
  });

  it('stops at maxRows with a file error', async () => {
    const csv = 'code;email\nRA000000001RU;a@example.com\n\nRA000000002RU;b@example.com\nRA000000003RU;c@example.com\n';
    const result = await parseShipmentFile(utf8(csv), 'csv', { ...RU, maxRows: 2 });
    expect(result.fileErrors).toEqual(['the file has more than 2 rows; only the first 2 were read']);
    expect(result.rows.map((r) => r.line)).toEqual([2, 4]);
  });

  it('reports binary data and an empty file instead of throwing', async () => {
    const binary = await parseShipmentFile(Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00, 0x10]), 'csv', RU);
    expect(binary.fileErrors).toEqual(['the file could not be read as CSV: it contains binary data']);
    expect(binary.rows).toEqual([]);
    const empty = await parseShipmentFile(Buffer.alloc(0), 'csv', RU);
    expect(empty.fileErrors).toEqual(['the file is empty']);
    const unclosed = await parseShipmentFile(utf8('code;email\n"RA123456789RU;a@example.com\n'), 'csv', RU);
    expect(unclosed.fileErrors).toHaveLength(1);
    expect(unclosed.fileErrors[0]).toMatch(/^the file could not be read as CSV: /);
    expect(unclosed.rows).toEqual([]);
  });
});

describe('parseShipmentFile, XLSX', () => {
  /** The shop CSV as a sheet: numeric-looking codes, phones and order numbers stored as numbers. */
  function shopSheet(): (string | number | null)[][] {
    return SHOP_CSV_LINES.map((line) => {
      if (line === '') return [null];
      const cells = line.match(/("[^"]*"|[^;]*)(;|$)/g)?.map((c) => c.replace(/;$/, '').replace(/^"(.*)"$/, '$1')) ?? [];
      return cells.slice(0, 8).map((c) => (c === '' ? null : /^\d+$/.test(c) ? Number(c) : c));
    });
  }

  it('parses the same sheet identically, numbers in code/phone columns kept exact', async () => {
    const sheet = shopSheet();
    // Phone typed as a number, 14-digit codes as numbers: the cases Excel users produce.
    sheet[1]![2] = 79161234567;
    expect(sheet[2]![4]).toBe(80085412345678);
    expect(sheet[9]![4]).toBe(80085412345679);
    const xlsx = await writeXlsxFile(sheet).toBuffer();
    const result = await parseShipmentFile(xlsx, 'xlsx', RU);
    expect(result.format).toBe('xlsx');
    expect(result.fileErrors).toEqual([]);
    const expected = structuredClone(SHOP_CSV_ROWS);
    expected[0]!.shipment!.phone = '79161234567';
    expect(result.rows).toStrictEqual(expected);
  });

  it('reads numbers the writer stored in exponent form or with a fraction as plain digits', async () => {
    // String(1e21) is "1e+21": that is what lands in the sheet XML for such a cell.
    const xlsx = await writeXlsxFile([
      ['Tracking', 'Mobile', 'Amount'],
      [1e21, 79161234567, 1250.5],
      [2.5e25, 79031234567, 0.75],
    ]).toBuffer();
    const result = await parseShipmentFile(xlsx, 'xlsx', { ...RU, defaultCarrier: 'dhl' });
    expect(result.rows.map((r) => [r.shipment?.code, r.shipment?.phoneE164, r.shipment?.orderSum])).toEqual([
      ['1000000000000000000000', '+79161234567', '1250.5'],
      ['25000000000000000000000000', '+79031234567', '0.75'],
    ]);
  });

  it('reports garbage bytes and a broken ZIP as unreadable XLSX', async () => {
    for (const bytes of [Buffer.from('this is not a spreadsheet at all \x00\x01\x02'), Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)])]) {
      const result = await parseShipmentFile(bytes, 'xlsx', RU);
      expect(result.fileErrors).toHaveLength(1);
      expect(result.fileErrors[0]).toMatch(/^the file could not be read as XLSX: ./);
      expect(result.rows).toEqual([]);
    }
  });
});

describe('detectFormat', () => {
  const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]);
  const xls = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
  const text = utf8('Трек;Телефон\n');

  it('trusts the ZIP magic over the name and content type', () => {
    expect(detectFormat('orders.csv', 'text/csv', zip)).toBe('xlsx');
    expect(detectFormat(undefined, undefined, zip)).toBe('xlsx');
  });

  it('goes by extension, then content type, then whether the bytes are text', () => {
    expect(detectFormat('Заказы.CSV', 'application/vnd.ms-excel', text)).toBe('csv');
    expect(detectFormat('orders.xlsx', undefined, text)).toBe('xlsx');
    expect(detectFormat(undefined, 'text/csv; charset=windows-1251', text)).toBe('csv');
    expect(detectFormat(undefined, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', text)).toBe('xlsx');
    expect(detectFormat('upload', undefined, text)).toBe('csv');
  });

  it('refuses legacy .xls and unnamed binary data', () => {
    expect(detectFormat('orders.xls', undefined, xls)).toBeUndefined();
    expect(detectFormat('orders.xls', undefined, text)).toBeUndefined();
    expect(detectFormat(undefined, undefined, Buffer.from([0x00, 0x01, 0x02]))).toBeUndefined();
    expect(detectFormat(undefined, undefined, Buffer.alloc(0))).toBeUndefined();
  });
});

describe('XLSX size limit', () => {
  /** A ZIP whose central directory declares `size` unpacked bytes for one small deflated sheet. */
  function zipDeclaring(size: number): Buffer {
    const name = Buffer.from('xl/worksheets/sheet1.xml');
    const data = deflateRawSync(Buffer.from('   '));
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
    local.writeUInt32LE(data.length, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(20, 4); cd.writeUInt16LE(20, 6); cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(data.length, 20); cd.writeUInt32LE(size, 24); cd.writeUInt16LE(name.length, 28);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(1, 8); eocd.writeUInt16LE(1, 10);
    eocd.writeUInt32LE(46 + name.length, 12); eocd.writeUInt32LE(30 + name.length + data.length, 16);
    return Buffer.concat([local, name, data, cd, name, eocd]);
  }

  it('refuses an XLSX that unpacks to more than the limit before unpacking it', async () => {
    const result = await parseShipmentFile(zipDeclaring(200 * 1024 * 1024), 'xlsx', RU);
    expect(result.rows).toEqual([]);
    expect(result.fileErrors).toEqual(['the file could not be read as XLSX: it unpacks to 200 MB (limit 100 MB); split it or save it as CSV']);
  });

  it('reads the declared unpacked size of a real XLSX', async () => {
    const xlsx = await writeXlsxFile([['Code', 'Email'], ['80082345678901', 'a@b.test']]).toBuffer();
    expect(zipUnpackedSize(xlsx)).toBeGreaterThan(xlsx.length);
    expect(zipUnpackedSize(Buffer.from('PK\u0003\u0004 not really a zip, and long enough to look'))).toBeUndefined();
  });
});
