"""Replace a marked section of README.md with text from standard input.

    fastlogreg compare | python tools/readme_section.py compare --fence text

rewrites what stands between ``<!-- compare:start -->`` and
``<!-- compare:end -->``, so that README's figures and sample output are
produced by commands, never typed by hand.
"""

import os
import sys

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")


def replace_section(name, body, path=README):
    """Put ``body`` between the ``name`` markers of the file at ``path``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if start not in text or end not in text:
        raise SystemExit(f"readme_section: no {start} ... {end} markers in {path}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{start}\n{body.rstrip()}\n{end}{tail}")


def main(argv=None):
    """``NAME [--fence LANG]``: standard input into README's NAME section.

    ``--fence LANG`` wraps the text in a fenced code block of that language.
    """
    import argparse
    parser = argparse.ArgumentParser(description="Replace a marked section of README.md "
                                                 "with standard input.")
    parser.add_argument("name")
    parser.add_argument("--fence", metavar="LANG", help="wrap the text in a ```LANG block")
    args = parser.parse_args(argv)
    body = sys.stdin.read()
    if args.fence:
        body = f"```{args.fence}\n{body.rstrip()}\n```"
    replace_section(args.name, body)


if __name__ == "__main__":
    main()
