"""schemathesis hooks for media types it does not know (SCHEMATHESIS_HOOKS=hooks, run.sh).

POST /snippets/import takes NDJSON: the document describes the body as an array of
SnippetInput, one per line; this writes such an array as NDJSON. The export's
NDJSON response is checked as the string the document declares.
"""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return "".join(json.dumps(v) + "\n" for v in value).encode("utf-8")
    # Negative testing: anything else goes as its JSON text (a 200 report of bad lines, or a 400).
    return json.dumps(value).encode("utf-8")


@schemathesis.deserializer("application/x-ndjson")
def ndjson_text(ctx, response):
    return response.content.decode("utf-8")
