"""Drives saring's Akismet-compatible API with the real, unmodified PyPI `akismet` client.

The client's URL is fixed (rest.akismet.com); it accepts an injected httpx.Client, whose transport here
sends every request to saring on loopback instead. Usage: akismet_client.py BASE_URL API_KEY
Prints "N passed, M failed" and exits non-zero on any failure.
"""
import sys

import akismet
import httpx

base = httpx.URL(sys.argv[1])
key = sys.argv[2]


class ToSaring(httpx.HTTPTransport):
    """Sends each request to saring, keeping the path, query and body the client chose."""

    def handle_request(self, request):
        request.url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port)
        request.headers["host"] = f"{base.host}:{base.port}"
        return super().handle_request(request)


results = []


def check(name, condition):
    results.append(bool(condition))
    print(("ok     " if condition else "FAILED ") + name)


http = httpx.Client(transport=ToSaring(), headers={"User-Agent": akismet.USER_AGENT})
config = akismet.Config(key=key, url="https://blog.example.id/")
client = akismet.SyncClient.validated_client(config=config, http_client=http)
check("verify_key accepts the configured key", client.verify_key())
check("verify_key refuses another key", not client.verify_key(key="wrong-key-123", url="https://blog.example.id/"))

spam = client.comment_check(
    user_ip="203.0.113.7",
    comment_type="comment",
    comment_author="Slot Gacor Hari Ini",
    comment_content="Main di 𝐙𝐄𝐔𝐒𝟏𝟑𝟖 pasti gacor maxwin, depo 10k langsung wd, link alternatif aman",
    blog_lang="id, en",
    blog_charset="UTF-8",
)
check("gambling promotion is spam", spam in (akismet.CheckResponse.SPAM, akismet.CheckResponse.DISCARD))

ham = client.comment_check(
    user_ip="198.51.100.4",
    comment_type="comment",
    comment_author="Megan",
    comment_content="Thanks, very helpful! I fixed my garden hose with this.",
)
check("a reader's thanks is ham", ham == akismet.CheckResponse.HAM)

test_spam = client.comment_check(user_ip="192.0.2.1", comment_author="viagra-test-123", comment_content="hello")
check("viagra-test-123 is spam", test_spam != akismet.CheckResponse.HAM)
test_ham = client.comment_check(
    user_ip="192.0.2.1",
    user_role="administrator",
    comment_content="Main di ZEUS138 pasti gacor maxwin",
)
check("user_role=administrator is ham", test_ham == akismet.CheckResponse.HAM)

check(
    "submit_spam is thanked",
    client.submit_spam(user_ip="203.0.113.9", comment_content="cheap pills online no prescription"),
)
check(
    "submit_ham is thanked",
    client.submit_ham(user_ip="198.51.100.9", comment_content="great recipe, my kids loved it"),
)
usage = client.usage_limit()
check("usage_limit answers", usage.get("limit") == "none" and usage.get("throttled") is False)

passed = sum(results)
failed = len(results) - passed
print(f"akismet client: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
