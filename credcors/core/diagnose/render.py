"""The plain-text form of an :class:`~credcors.core.diagnose.Explanation`, as ``credcors explain`` prints it."""

from __future__ import annotations

from credcors.core.diagnose.explain import Explanation
from credcors.core.quoting import safe, scrub

__all__ = ["render"]


def render(result: Explanation) -> str:
    """The human-readable form of an explanation (the admin page shows the same parts)."""
    verdict = "ALLOWED" if result.allowed else "REFUSED"
    lines = [f"Origin:   {safe(result.origin)}", f"Verdict:  {verdict} ({result.cause})"]
    if result.host is not None:
        lines.append(f"Host:     {safe(result.host, 300) if result.host else 'one ALLOWED_HOSTS refuses'}")
    if result.policy_reason:
        lines.append(f"Policy:   {result.policy} ({result.policy_reason})")
    lines.append(f"Why:      {result.message}")
    lines += [f"          {hint}" for hint in result.hints]
    lines += [f"{'Cookies:' if index == 0 else '':<10}{line}" for index, line in enumerate(result.cookies)]
    if result.csrf_trust_reason:
        lines.append(f"CSRF:     {result.csrf_trust_reason}")
    for exchange in result.exchanges:
        if exchange.kind.value == "preflight":
            asked = f", Access-Control-Request-Headers: {exchange.request_headers}" if exchange.request_headers else ""
            title = (
                f"Preflight: OPTIONS with Access-Control-Request-Method: {safe(exchange.method, 70)}{scrub(asked, 300)}"
                f" -> {exchange.status}"
            )
        else:
            title = f"Request:  {safe(exchange.method, 70)} -> the view's response, with these headers added"
        lines.append(title)
        lines += [f"  {name}: {value}" for name, value in exchange.response_headers]
    if not result.exchanges:
        lines.append("Headers:  none (credcors does not touch this path)")
    return "\n".join(lines)
