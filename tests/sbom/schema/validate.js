#!/usr/bin/env node
// Checks SBOMs with tools edgeforge did not write: CycloneDX documents
// against the official CycloneDX 1.5 JSON schema (as @cyclonedx/cyclonedx-
// library ships it) with ajv; SPDX documents against the SPDX 2.3 JSON
// schema when one is given (--spdx-schema FILE); for both, every licence
// expression with spdx-expression-parse and every purl with packageurl-js.
// Usage: node validate.js [--spdx-schema FILE] DOCUMENT...
// Prints one line per document; exits 1 when any check fails.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const parseLicense = require('spdx-expression-parse');
const { PackageURL } = require('packageurl-js');

const schemaDir = path.join(path.dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')),
                            'res', 'schema');
const load = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

function cyclonedxValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // Formats ajv-formats lacks (the library itself takes them from
  // ajv-formats-draft2019); edgeforge writes neither IRIs nor e-mail fields.
  ajv.addFormat('iri-reference', true);
  ajv.addFormat('idn-email', true);
  // bom-1.5 refers to its neighbours by their file names.
  for (const name of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) {
    const schema = load(path.join(schemaDir, name));
    schema.$id = 'http://cyclonedx.org/schema/' + name;
    ajv.addSchema(schema);
  }
  return ajv.compile(load(path.join(schemaDir, 'bom-1.5.SNAPSHOT.schema.json')));
}

function spdxValidator(file) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(load(file));
}

function checkLicense(expr, where, errors, declaredRefs) {
  if (expr === undefined || expr === 'NOASSERTION' || expr === 'NONE') return;
  try {
    const walk = (node) => {
      if (node.license) {
        if (node.license.startsWith('LicenseRef-') && declaredRefs && !declaredRefs.has(node.license))
          errors.push(`${where}: ${node.license} is not in hasExtractedLicensingInfos`);
      } else {
        walk(node.left);
        walk(node.right);
      }
    };
    walk(parseLicense(expr));
  } catch (e) {
    errors.push(`${where}: licence expression '${expr}' does not parse: ${e.message}`);
  }
}

function checkPurl(purl, where, errors) {
  try {
    const p = PackageURL.fromString(purl);
    if (!p.type || !p.name) errors.push(`${where}: purl ${purl} has no type or name`);
  } catch (e) {
    errors.push(`${where}: purl ${purl} does not parse: ${e.message}`);
  }
}

const args = process.argv.slice(2);
let spdxSchema = null;
if (args[0] === '--spdx-schema') {
  spdxSchema = args[1];
  args.splice(0, 2);
}
let failed = false;
const cdx = cyclonedxValidator();
const spdx = spdxSchema ? spdxValidator(spdxSchema) : null;
for (const file of args) {
  const doc = load(file);
  const errors = [];
  let what;
  if (doc.bomFormat === 'CycloneDX') {
    what = `CycloneDX ${doc.specVersion}, schema bom-1.5`;
    if (doc.specVersion !== '1.5') errors.push(`specVersion ${doc.specVersion}, not 1.5`);
    if (!cdx(doc)) for (const e of cdx.errors) errors.push(`schema: ${e.instancePath} ${e.message}`);
    for (const c of doc.components || []) {
      if (c.purl) checkPurl(c.purl, c['bom-ref'], errors);
      for (const l of c.licenses || []) checkLicense(l.expression, c['bom-ref'], errors, null);
    }
  } else if (doc.spdxVersion) {
    what = `${doc.spdxVersion}, ` + (spdx ? 'schema ' + path.basename(spdxSchema) : 'no SPDX schema given');
    if (doc.spdxVersion !== 'SPDX-2.3') errors.push(`spdxVersion ${doc.spdxVersion}, not SPDX-2.3`);
    if (spdx && !spdx(doc)) for (const e of spdx.errors) errors.push(`schema: ${e.instancePath} ${e.message}`);
    const refs = new Set((doc.hasExtractedLicensingInfos || []).map((i) => i.licenseId));
    const ids = new Set(['SPDXRef-DOCUMENT']);
    for (const p of doc.packages || []) {
      ids.add(p.SPDXID);
      checkLicense(p.licenseDeclared, p.SPDXID, errors, refs);
      for (const r of p.externalRefs || [])
        if (r.referenceType === 'purl') checkPurl(r.referenceLocator, p.SPDXID, errors);
    }
    for (const f of doc.files || []) ids.add(f.SPDXID);
    for (const r of doc.relationships || [])
      for (const id of [r.spdxElementId, r.relatedSpdxElement])
        if (!ids.has(id)) errors.push(`relationship names ${id}, which the document does not define`);
  } else {
    errors.push('neither CycloneDX nor SPDX');
  }
  if (errors.length) {
    failed = true;
    console.log(`FAIL ${file} (${what}):`);
    for (const e of errors.slice(0, 20)) console.log(`  ${e}`);
  } else {
    console.log(`ok ${file} (${what})`);
  }
}
process.exit(failed ? 1 : 0);
