"""Model patterns compiled with `re` (the fast path) match exactly what `regex` matches."""

from __future__ import annotations

import re

import botocore.session
import regex  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from podid.wire.validate import Validator, re_compatible

_SERVICES = ("iam", "sts", "eks", "eks-auth", "s3", "cloudformation")


def _model_patterns() -> list[str]:
    session = botocore.session.get_session()
    found: set[str] = set()
    for service in _SERVICES:
        model = session.get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                found.add(pattern)
    return sorted(found)


_ALL = _model_patterns()
_FAST = [p for p in _ALL if re_compatible(p)]


def test_fast_path_covers_the_plain_patterns_and_spares_the_others() -> None:
    assert r"[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+" in _FAST  # the EKS Auth token
    assert "^[0-9]{12}$" in _FAST
    for pattern in (r"[\w+=,.@-]+", r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", r"\d{12}", r"[\u0020-\u00FF]+"):
        assert pattern in _ALL
        assert not re_compatible(pattern)
    assert not re_compatible(r"^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
    assert not re_compatible("[a-z&&[^x]]")
    validator = Validator()
    assert isinstance(validator.pattern("^[0-9]{12}$"), re.Pattern)
    assert not isinstance(validator.pattern(r"[\w+=,.@-]+"), re.Pattern)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, str]:
    pattern = draw(st.sampled_from(_FAST))
    own = sorted({c for c in pattern if c not in "\\^$"} | set("aZ09-_.=/:é\n \u2028"))
    text = draw(
        st.one_of(
            st.from_regex(re.compile(pattern), fullmatch=True),
            st.text(alphabet=st.sampled_from(own), max_size=40),
            st.text(max_size=20),
        )
    )
    return pattern, text


@settings(max_examples=600, deadline=None)
@given(_cases())
def test_re_and_regex_agree_on_every_fast_pattern(case: tuple[str, str]) -> None:
    pattern, text = case
    fast = re.compile(pattern).fullmatch(text) is not None
    assert fast == (regex.compile(pattern, regex.VERSION0).fullmatch(text) is not None)
