// Checks JSON values against JSON Schemas with ajv, for t/091-openapi.t.
//
//   node t/openapi/validate.js NPM_DIR < cases.json > results.json
//
// cases.json: [{"id": ..., "schema": {...}, "value": ..., "coerce": bool}]
// results.json: [{"id": ..., "valid": bool, "errors": "..."}]
//
// Schemas are JSON Schema 2020-12, the dialect of OpenAPI 3.1, with the
// OpenAPI vocabulary's annotations (example, discriminator, xml,
// externalDocs) known.  "coerce" is for header values, which are text on
// the wire: "1" is then the integer 1.

'use strict';

const path = require('path');
const fs = require('fs');

const npmDir = process.argv[2];
const Ajv2020 = require(path.resolve(npmDir, 'node_modules/ajv/dist/2020'));

function ajv(coerce) {
    const a = new Ajv2020({ strict: true, allowUnionTypes: true,
                            allErrors: true, coerceTypes: coerce });
    a.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
    return a;
}

const plain = ajv(false);
const coercing = ajv(true);

const cases = JSON.parse(fs.readFileSync(0, 'utf8'));

const results = cases.map((c) => {
    let valid;
    let errors = '';

    try {
        if (c.coerce) {
            // only a member can be coerced in place, not a root value
            const check = coercing.compile({
                type: 'object', required: ['v'], properties: { v: c.schema },
            });
            valid = check({ v: c.value });
            errors = valid ? '' : coercing.errorsText(check.errors);
        } else {
            const check = plain.compile(c.schema);
            valid = check(c.value);
            errors = valid ? '' : plain.errorsText(check.errors);
        }
    } catch (e) {
        valid = false;
        errors = 'schema: ' + e.message;
    }

    return { id: c.id, valid, errors };
});

process.stdout.write(JSON.stringify(results));
