"""Generate qbo_emulator/schema_fields.py from Intuit's XSD schema of the QBO v3 API.

The source is Intuit's own Java SDK, which generates its entity classes from these files:
github:intuit/QuickBooks-V3-Java-SDK, ipp-v3-java-data/src/main/xsd/Finance.xsd (it includes
IntuitBaseTypes.xsd and IntuitNamesTypes.xsd). QBO's JSON API deserialises requests into the same
JAXB classes (its faults name them: "class com.intuit.schema.finance.v3.Item"), so the XSD's
elements and attributes are the properties a request may carry.

Usage (regenerate after fetching the SDK):
    git -C <sdk> show HEAD:ipp-v3-java-data/src/main/xsd/Finance.xsd > /tmp/xsd/Finance.xsd  # etc.
    python -m tools.qbo_schema_from_xsd /tmp/xsd/Finance.xsd --commit <sha> \
        --out qbo_emulator/schema_fields.py && ruff format qbo_emulator/schema_fields.py
"""

from __future__ import annotations

import argparse
import pprint
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

XS = "{http://www.w3.org/2001/XMLSchema}"
SOURCE_REPO = "intuit/QuickBooks-V3-Java-SDK"
SOURCE_PATH = "ipp-v3-java-data/src/main/xsd/Finance.xsd"

# The entities the emulator serves (qbo_emulator/store.py); their closure is what is written.
ROOTS = (
    "Customer",
    "Vendor",
    "Employee",
    "Item",
    "Account",
    "PaymentMethod",
    "TaxCode",
    "TaxRate",
    "Invoice",
    "SalesReceipt",
    "Payment",
    "RefundReceipt",
    "CreditMemo",
    "Purchase",
    "Preferences",
    "CompanyInfo",
)

SCALARS = {
    "string": "string",
    "anyURI": "string",
    "base64Binary": "string",
    "boolean": "boolean",
    "decimal": "decimal",
    "double": "decimal",
    "float": "decimal",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "positiveInteger": "integer",
    "date": "date",
    "dateTime": "datetime",
    "time": "string",
}


@dataclass
class ComplexType:
    base: str = ""
    simple_base: str = ""  # simpleContent: the JSON object carries "value" of this type
    props: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (xsd type, list)
    any_content: bool = False


def _local(name: str) -> str:
    return name.split(":", 1)[1] if ":" in name else name


class Schema:
    def __init__(self) -> None:
        self.complex: dict[str, ComplexType] = {}
        self.simple: dict[str, str] = {}  # simpleType name -> base xsd type
        self.groups: dict[str, ET.Element] = {}

    def load(self, path: Path, seen: set[Path] | None = None) -> None:
        seen = seen if seen is not None else set()
        if path in seen:
            return
        seen.add(path)
        root = ET.parse(path).getroot()  # noqa: S314 - Intuit's XSD from a git checkout
        for include in root.findall(f"{XS}include"):
            self.load(path.parent / include.attrib["schemaLocation"], seen)
        for node in root.findall(f"{XS}group"):
            self.groups[node.attrib["name"]] = node
        for node in root.findall(f"{XS}simpleType"):
            restriction = node.find(f"{XS}restriction")
            base = restriction.attrib.get("base", "xs:string") if restriction is not None else ""
            self.simple[node.attrib["name"]] = _local(base or "xs:string")
        for node in root.findall(f"{XS}complexType"):
            self.complex[node.attrib["name"]] = self._complex(node)

    def _complex(self, node: ET.Element) -> ComplexType:
        ctype = ComplexType()
        body = node
        for content in (f"{XS}complexContent", f"{XS}simpleContent"):
            wrapper = node.find(content)
            if wrapper is None:
                continue
            ext = wrapper.find(f"{XS}extension")
            if ext is None:
                ext = wrapper.find(f"{XS}restriction")
            assert ext is not None
            if content.endswith("simpleContent"):
                ctype.simple_base = _local(ext.attrib["base"])
            else:
                ctype.base = _local(ext.attrib["base"])
            body = ext
        self._collect(body, ctype)
        return ctype

    def _collect(self, node: ET.Element, ctype: ComplexType) -> None:
        for child in node:
            tag = child.tag
            if tag == f"{XS}element":
                name = child.attrib["name"]
                many = child.attrib.get("maxOccurs", "1") != "1"
                ctype.props[name] = (_local(child.attrib.get("type", "xs:string")), many)
            elif tag == f"{XS}attribute":
                name = child.attrib["name"]
                ctype.props[name] = (_local(child.attrib.get("type", "xs:string")), False)
            elif tag == f"{XS}any":
                ctype.any_content = True
            elif tag == f"{XS}group" and "ref" in child.attrib:
                self._collect(self.groups[_local(child.attrib["ref"])], ctype)
            elif tag in (f"{XS}sequence", f"{XS}choice", f"{XS}all", f"{XS}group"):
                self._collect(child, ctype)

    def kind(self, xsd_type: str) -> tuple[str, str]:
        """(kind, referenced complex type) of an element's type."""
        if xsd_type in self.complex:
            return "object", xsd_type
        seen: set[str] = set()
        while xsd_type in self.simple and xsd_type not in seen:
            seen.add(xsd_type)
            xsd_type = self.simple[xsd_type]
        return SCALARS.get(xsd_type, "string"), ""

    def flatten(self, name: str) -> tuple[dict[str, tuple[str, str, bool]], bool]:
        """All properties of a type, inherited ones first, as JSON sees them."""
        ctype = self.complex[name]
        props: dict[str, tuple[str, str, bool]] = {}
        any_content = ctype.any_content
        if ctype.base:
            inherited, inherited_any = self.flatten(ctype.base)
            props = dict(inherited)
            any_content = any_content or inherited_any
        if ctype.simple_base:
            simple = ctype.simple_base
            if simple in self.complex:
                props = dict(self.flatten(simple)[0])
            else:
                props["value"] = (self.kind(simple)[0], "", False)
        for prop, (xsd_type, many) in ctype.props.items():
            kind, ref = self.kind(xsd_type)
            props[prop] = (kind, ref, many)
        return props, any_content


def closure(schema: Schema, roots: tuple[str, ...]) -> list[str]:
    todo = list(roots)
    done: list[str] = []
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.append(name)
        props, _ = schema.flatten(name)
        todo.extend(ref for _, ref, _ in props.values() if ref and ref not in done)
    return sorted(done)


def render(schema: Schema, commit: str) -> str:
    names = closure(schema, ROOTS)
    types: dict[str, dict[str, tuple[str, str, bool]]] = {}
    open_types: list[str] = []
    for name in names:
        props, any_content = schema.flatten(name)
        types[name] = props
        if any_content:
            open_types.append(name)
    return (
        '"""GENERATED by tools/qbo_schema_from_xsd.py; do not edit by hand.\n\n'
        f"Source: github:{SOURCE_REPO} {SOURCE_PATH} (and the files it includes) at commit\n"
        f"{commit}. TYPES maps each schema type reachable from the emulator's entities to its\n"
        "properties, inherited ones included: name -> (kind, complex type or '', is a list).\n"
        "OPEN_TYPES take any property (xs:any). The XSD has no maxLength facets; the emulator's\n"
        "length limits are a cited table in qbo_emulator/schema.py.\n"
        '"""\n\n'
        "# ruff: noqa: E501\n"
        "from __future__ import annotations\n\n"
        f"SOURCE_COMMIT = {commit!r}\n\n"
        "TYPES: dict[str, dict[str, tuple[str, str, bool]]] = "
        f"{pprint.pformat(types, width=100, sort_dicts=True)}\n\n"
        f"OPEN_TYPES: frozenset[str] = frozenset({sorted(open_types)!r})\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("xsd", type=Path, help="path to Finance.xsd (its includes beside it)")
    parser.add_argument("--commit", required=True, help="commit of intuit/QuickBooks-V3-Java-SDK")
    parser.add_argument("--out", type=Path, default=Path("qbo_emulator/schema_fields.py"))
    args = parser.parse_args()
    schema = Schema()
    schema.load(args.xsd.resolve())
    args.out.write_text(render(schema, args.commit))


if __name__ == "__main__":
    main()
