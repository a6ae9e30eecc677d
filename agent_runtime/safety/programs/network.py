"""curl and wget: the files they write, and the files they send."""

from __future__ import annotations

import re

from agent_runtime.safety.programs.base import Effects, scan
from agent_runtime.safety.shellwords import Word

CURL_WRITES = ("-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar", "--trace", "--trace-ascii",
               "--stderr", "--libcurl", "--etag-save", "--hsts", "--alt-svc", "--output-dir")
CURL_DATA = ("-d", "--data", "--data-binary", "--data-ascii", "--data-urlencode", "--json", "-T",
             "--upload-file", "-F", "--form", "--form-string", "-K", "--config", "-H", "--header")


def curl(args: list[Word], eff: Effects) -> None:
    found = scan(args, "oDcdTFKHXuAerxUEbwYyzmC",
                 set(CURL_WRITES) | set(CURL_DATA) | {"--url", "--request", "--user", "--proxy", "--cert", "--key",
                                                      "--cacert", "--max-time", "--connect-timeout", "--retry",
                                                      "--user-agent", "--referer", "--range", "--cookie"})
    for value in found.values(*CURL_WRITES):
        eff.writes.append((value, "curl writes"))
    for name, value in found.options:
        if value is None or name not in CURL_DATA:
            continue
        text = value.text
        if name in ("-T", "--upload-file", "-K", "--config"):
            eff.reads.append((value, f"curl {name} sends"))
        elif text.startswith("@"):
            eff.reads.append((Word(text[1:], value.static), f"curl {name} sends"))
        elif name in ("-F", "--form"):
            for match in re.finditer(r"=[@<]([^;]*)", text):
                eff.reads.append((Word(match.group(1), value.static), f"curl {name} sends"))
    for value in found.values("--cookie", "-b"):
        if "=" not in value.text:
            eff.reads.append((value, "curl --cookie sends"))


def wget(args: list[Word], eff: Effects) -> None:
    found = scan(args, "OoaPiBeUTtw", {"--output-document", "--output-file", "--append-output",
                                       "--directory-prefix", "--input-file", "--post-file", "--body-file",
                                       "--execute", "--user-agent", "--header", "--load-cookies",
                                       "--save-cookies", "--config"})
    for value in found.values("-O", "--output-document", "-o", "--output-file", "-a", "--append-output",
                              "-P", "--directory-prefix", "--save-cookies"):
        eff.writes.append((value, "wget writes"))
    for value in found.values("--post-file", "--body-file", "-i", "--input-file", "--load-cookies", "--config"):
        eff.reads.append((value, "wget sends"))
    if found.has("-e", "--execute"):
        eff.ask("program-option", "wget -e runs a wgetrc command, which can change where it writes")


HANDLERS = {"curl": curl, "wget": wget}
