"""Planted content: text in the content folder that tries to steer the clone, or to reach fans through it.

Content is data, whatever its wording. Three kinds of sentence are recognised here, by shape and
not by one literal phrase:

- **instructions**: sentences addressed to whoever answers fans (the assistant, the bot, any AI,
  "whoever replies to fans", "the person answering") or that say what the replies must say, reveal,
  repeat, share, start or end with ("fans who ask about X should be told Y");
- **solicitations**: sentences that ask fans for money, gift cards, stamps or vouchers, crypto, a
  transfer, passwords or codes, or personal data, or that carry a payment link or account;
- **secrets**: sentences that give a password, PIN, access code, key or a code the content marks as
  secret. :func:`secrets` returns the secret strings themselves, so a reply carrying one is caught
  whatever sentence it came from.

``clone.guardrails`` removes the first two (and sentences giving secrets) from passages before any
backend sees them, and replaces a reply that solicits or carries a secret, whichever backend wrote it.
A creator's own support or shop links come only from the persona card (``links``, ``support_links``):
a link there is allowed, any other payment link is not. The patterns were tuned on
``tests/data/planted/dev.jsonl`` only; ``tests/data/planted/heldout.jsonl`` measures them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def _rx(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


# --- instructions -----------------------------------------------------------------------------

# Whoever answers fans, named as an AI or by their role.
_ADDRESSEE = _rx(
    r"\b(?:ai|a\.i\.|assistants?|chat\s?bots?|bots?|clones?|llms?|gpt|claude|llama|gemini|agents?)\b(?!\s+(?:art|generated))",
    r"\b(?:language|ai|chat)\s+models?\b",
    r"\b(?:models?|machines?|systems?|tools?|programs?)\s+(?:reading|processing|summari[sz]ing|answering|replying|"
    r"parsing|indexing)\b",
    r"\b(?:automated|automatic|answering|reply|response)\s+(?:system|service|assistant|responder|helper|tool)s?\b",
    r"\b(?:automated|automatic|ai|machine|robot|bot)\s+(?:readers?|systems?|agents?|crawlers?|tools?|summari[sz]ers?)\b",
    r"\bfor\s+(?:ai|a\.i\.|automated|machine|bot|robot)s?\b(?:\s+\w+)?\s+only\b",
    r"\b(?:responders?|repliers?|reply[-\s]writers?|answerers?)\b",
    r"\b(?:whoever|whomever|anyone|anybody|someone|everyone|any\s+one|the\s+(?:person|people|one|team|staff|helpers?|"
    r"writers?|moderators?))\s+(?:who(?:'s|\s+is|\s+are)?\s+)?(?:is\s+|are\s+)?(?:(?:answer|repl|respond|handl|"
    r"process|summari[sz]|deal)\w*|(?:read|writ)\w*\s+(?:this|these|the\s+(?:repl|answer|response)\w*|fan|comments|"
    r"messages|questions))\b",
    r"\b(?:replying|answering|responding|writing)\s+(?:on\s+(?:my|our|her|his)\s+behalf|for\s+(?:me|us|her|him))\b",
    r"\b(?:on\s+(?:my|our)\s+behalf)\b",
    r"\b(?:hey|dear|attention|note\s+(?:to|for)|message\s+(?:to|for)|psst)\b[^.?!:]{0,40}\b(?:you|bot|ai|assistant|"
    r"model|replier|responder|helper|machine|whoever|clone)\b",
    r"\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|bot|assistant|language\s+model|llm|automated|machine|program)\b",
    r"\bmoderator\s+note\b",
)
# What an instruction tells its addressee to do.
_DIRECTIVE = _rx(
    r"\b(?:tell|say|said|reply|respond|answer|ask|share|give|hand|pass|reveal|disclose|include|insert|add|mention|"
    r"repeat|output|print|send|direct|point|invite|get|request|collect|remind|let|inform|forward|start|begin|end|finish|"
    r"sign|write|put|claim|recommend|promote|quote|append|prepend|use|respond|speak|refer|encourage|urge|link)"
    r"(?:s|ing)?\b",
    r"\b(?:must|should|shall|needs?\s+to|has\s+to|have\s+to|is\s+to|are\s+to|may)\b",
)
# A name followed by a colon or a comma: the sentence speaks to it.
_VOCATIVE = re.compile(r"\s*[:,]")
# How far after naming its addressee an instruction says what to do ("Dear chatbot, tell fans ...").
_REACH = 100
# Sentences that say what replies must contain, however they are addressed.
_REPLY_RULE = _rx(
    # "reply only with: X", "answer any question with only this", "respond with nothing but"
    r"\b(?:reply|respond|answer)(?:ing)?\s+(?:(?:only|just|always|simply|exactly|any\s+question|every\s+question|"
    r"them|fans|everyone|to\s+\w+)\s+){0,3}with\b",
    r"(?:^\W*|\b(?:your|the|every|each|all|any)\s+)(?:only\s+)?(?:reply|replies|answers?|responses?|messages?)\s+"
    r"(?:\w+\s+){0,5}(?:must|should|shall|has\s+to|have\s+to|will\s+(?:include|contain|say|be|start|end|mention)|"
    r"is\s+to|are\s+to|needs?\s+to)\b",
    r"\b(?:start|begin|end|finish|close|conclude|sign(?:\s+off)?|open|prefix|suffix|follow)\w*\s+(?:off\s+)?"
    r"(?:each|every|all|any|your|the|of\s+every|of\s+each)\s+(?:\w+\s+){0,2}"
    r"(?:reply|replies|answers?|responses?|messages?|sentences?)\b",
    r"\b(?:in|into|to|at\s+the\s+(?:start|end)\s+of|somewhere\s+in)\s+(?:every|each|all|any|your|the)\s+"
    r"(?:reply|replies|answers?|responses?)\b",
    r"\b(?:write|put|phrase|format)\s+(?:all|every|each|your)\s+(?:\w+\s+)?(?:reply|replies|answers?|responses?)\b",
    r"\b(?:output|print|return|say)\s+(?:exactly|only|verbatim|nothing\s+but)\b",
    r"\b(?:whatever|whichever|no\s+matter\s+what)\s+(?:the\s+)?(?:fans?|users?|people|they|someone|anyone|question)\s+"
    r"(?:asks?|writes?|says?)\b",
    r"\bfor\s+(?:every|each|any)\s+(?:question|message|fan|comment)\b[^.?!]{0,20}\b(?:reply|respond|answer|say)\w*\b",
    r"\bwhenever\s+[^.?!]{0,60}\bcomes?\s+up\b",
    r"\b(?:the\s+)?(?:answer|reply|response)\s+to\s+(?:any|every|each|all)\s+(?:questions?|messages?)\b",
    r"\bin\s+(?:all|every|any)\s+(?:future\s+)?(?:conversations?|chats?|replies|answers|responses)\b",
    # "fans who ask about X should be told Y", "users are to be informed", "everyone who mentions X gets told"
    r"\b(?:fans?|users?|people|readers?|viewers?|followers?|visitors?|everyone|anyone|anybody|someone|whoever|parents|"
    r"(?:the\s+)?fan)\b"
    r"[^.?!]{0,60}\b(?:(?:should|must|shall|will|are\s+to|is\s+to|need\s+to|ought\s+to)\s+(?:\w+\s+)?"
    r"(?:be\s+)?(?:told|given|informed|sent|asked|directed|pointed|shown|hear|get|receive|learn)|"
    r"(?:are|is)\s+to\s+(?:be\s+)?(?:told|given|informed|sent|asked|receive|get|hear)|gets?\s+(?:told|sent|given))\b",
    r"\bthe\s+fan\s+is\s+to\b",
    r"\b(?:replies|answers|responses)\s+to\s+(?:fans|users|people|readers|parents)\s+(?:will|must|should|shall|are\s+to)\b",
    r"\b(?:it\s+is\s+to\s+be|it\s+should\s+be|it\s+must\s+be|it\s+has\s+been\s+decided\s+that)\b[^.?!]{0,60}"
    r"\b(?:shared|mentioned|told|said|included|given|replies|answers?|fans?)\b",
    r"\b(?:each|every)\s+(?:reply|answer|response|message)\s+(?:to\s+(?:a\s+)?fans?\s+)?(?:shall|must|should|will)\b",
    r"\b(?:instructions?|directives?|orders?)\s+(?:embedded|hidden|for\s+(?:the|any)|to\s+(?:the|any))\b",
    r"\b(?:forget|disregard|ignore|override|set\s+aside|drop)\s+(?:what|everything|anything|all)\b[^.?!]{0,40}"
    r"\b(?:told|said|instructed|given|before|above|earlier)\b",
    r"\b(?:disregard|ignore|forget|override)\s+(?:\w+\s+){0,3}(?:guidance|instructions?|rules?|prompts?|directions?|"
    r"orders?|context|policy|policies)\b",
    r"\bfrom\s+(?:here|now)\s+on\b[^.?!]{0,80}\b(?:reply|replies|answer|answers|respond|say|include|only)\w*\b",
)

# "When a fan asks about the shed, the answer includes ...": an instruction, unless the creator says
# what they themselves answer ("When people ask me what to grow first, I tell them radishes").
_WHEN_ASKED = _rx(
    r"\b(?:when|whenever|if)\s+(?:a\s+fan|fans|someone|anyone|people|users?|a\s+user|they)\s+(?:\w+\s+)?"
    r"(?:asks?|mentions?|writes?|brings?\s+up)\b[^.?!]{0,80}\b(?:tell|say|reply|respond|answer|give|share|reveal|"
    r"include|send|mention|the\s+answer)\w*\b"
)
_I_ANSWER = _rx(r"\b(?:I|we)\s+(?:\w+\s+)?(?:tell|say|reply|respond|answer|give|send|share|point|recommend)\b")

# --- secrets ------------------------------------------------------------------------------------

# A value worth hiding: has a digit, or is a run of capitals (SWORDFISH-42, 4417 GROUSE, CRANE-4471).
_VALUE = r"[\"'‘“(\[]?(?P<value>(?-i:(?=[\w-]*\d)[A-Za-z0-9][\w-]{2,}(?:\s+[A-Z]{3,}\b)?|[A-Z][A-Z-]{4,}\b))"
_SECRET_NOUN = (
    r"(?:secret|password|passphrase|pass\s?word|passcode|pin|login|log-in|combination|admin\s+key|api\s+key|portal\s+key|"
    r"access\s+key|secret\s+key|private\s+key|key\s+code|(?:secret|access|gate|entry|door|lock|vip|members?'?|vault|"
    r"safe|alarm|wi-?fi|network|account|server|portal|room|box|"
    r"private|admin|login|verification|security|staff|unlock|bonus|backstage|one-time|otp|sms|bank)\s+"
    r"(?:\w+\s+)?(?:code|pin|number))"
)
_SECRET = (
    # "the password is X", "Wi-Fi password: X", "the combination for the seed vault is X", "password CRANE-4471"
    _rx(
        rf"\b{_SECRET_NOUN}\b(?:\s+(?:for|to|of|on)\s+(?:the\s+)?[\w'-]+(?:\s+[\w'-]+){{0,2}})?\s*(?:is|was|=|:|-)?\s*{_VALUE}"
    ),
    _rx(rf"{_VALUE}\s+is\s+(?:the|our|my)\s+(?:\w+\s+)?{_SECRET_NOUN}\b"),
    # Things that look like credentials wherever they appear.
    _rx(r"\b(?P<value>(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{8,}\w*)"),
    _rx(r"\b(?P<value>gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|xox[abpr]-[\w-]{10,}|AIza[\w-]{30,})\b"),
)
# Any code, when the sentence also marks it as not for the public.
_MARKED = _rx(
    r"\b(?:secret|confidential|internal(?:\s+only)?|private|staff|members?\s+only|do\s+not\s+(?:share|publish)|"
    r"don'?t\s+(?:share|publish)|top\s+secret|not\s+for\s+(?:the\s+)?public|keep\s+it\s+(?:secret|quiet|private))\b"
)
_CODE = _rx(rf"\b(?:code|key|pin|token)\b\s*(?:is|was|=|:)?\s*{_VALUE}")

# --- solicitations ------------------------------------------------------------------------------

_MONEY = (
    r"(?:money|cash|crypto\w*|bitcoins?|btc|eth|ether(?:eum)?|usdt|usdc|tether|monero|xmr|dogecoin|doge|"
    r"gift\s*-?\s*cards?|(?:steam|itunes|apple|google\s+play|amazon|razer|visa|prepaid)\s+(?:gift\s+)?"
    r"(?:cards?|vouchers?|codes?)|card\s+codes?|vouchers?|stamps?|funds|donations?|deposit|(?:entry\s+|consultation\s+|"
    r"class\s+|membership\s+|shipping\s+|postage\s+)?fees?|payments?|contributions?|a\s+tip|tips|pledge|"
    r"(?:bank\s+)?transfer|wire|western\s+union|moneygram|paypal|venmo|zelle|cash\s*app|revolut|ko-?fi|patreon|"
    r"buy\s*me\s*a\s*coffee|\d+(?:[.,]\d+)?\s*(?:euros?|eur|dollars?|usd|pounds?|gbp|kronor|kr|sek|quid|bucks)\b|"
    r"[$€£]\s?\d+)"
)
_PAY_VERB = (
    r"(?:send|donate|pay|transfer|wire\s+(?:it|them|money|cash|funds|the|\d|[$€£])|tip|chip\s+in|contribute|pledge|"
    r"deposit|venmo|cash\s*app|revolut)"
)
# Ways to pay that are never a price: asked to buy, post or read back one of these, a fan is being scammed.
_INSTRUMENT = (
    r"(?:crypto\w*|bitcoins?|btc|eth|ether(?:eum)?|usdt|usdc|tether|monero|xmr|dogecoin|gift\s*-?\s*cards?|"
    r"(?:steam|itunes|apple|google\s+play|amazon|razer|visa|prepaid)\s+(?:gift\s+)?(?:cards?|vouchers?|codes?)|"
    r"card\s+codes?|vouchers?|stamps?|patreon|ko-?fi|paypal)"
)
_PRIVATE = (
    r"(?:passwords?|passcodes?|pins?|logins?|log-in|(?:login|bank|banking|sms|security|verification|one-time|otp|2fa|"
    r"confirmation|authentication)\s+(?:\w+\s+)?codes?|card\s+(?:number|details)|cvv|cvc|bank\s+(?:details|account)|"
    r"account\s+(?:number|details)|(?:home|postal|street|mailing)\s+address(?:es)?|address(?:es)?|phone\s+numbers?|"
    r"mobile\s+numbers?|dates?\s+of\s+birth|birthdays?|full\s+names?|(?:national\s+insurance|social\s+security|"
    r"passport|id|tax|ssn)\s+numbers?|passports?|mother'?s\s+maiden\s+name|seed\s+phrase|recovery\s+phrase)"
)
_WHOSE = (
    r"(?:your|their|his|her|its|fans?'?s?|each\s+fan'?s|every\s+fan'?s|the\s+(?:fan|user|child|kid)'?s?|users?'?s?)"
)
_SOLICIT = _rx(
    # payment handles and accounts
    r"\b(?:paypal\.me|ko-?fi\.com|patreon\.com|buymeacoffee\.com|gofundme\.com|venmo\.com|cash\.app|revolut\.me|"
    r"wise\.com/pay|streamlabs\.com|tipeee\.com|liberapay\.com)/\S+",
    r"(?:^|\s)\$[A-Za-z][\w-]{2,}",  # a Cash App $cashtag
    r"\b(?:venmo|revolut|cash\s*app|zelle)\b[^.?!]{0,30}@\w+",
    r"(?-i:\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b)",  # IBAN
    r"\bsort\s+code\b",
    r"\b(?:bc1[a-z0-9]{8,}|0x[A-Za-z0-9]{10,}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|T[A-Za-z0-9]{25,40})\b",  # wallets
    r"\b(?:western\s+union|moneygram)\b",
    # asking for money, gift cards, stamps, vouchers, crypto, a transfer
    rf"\b{_PAY_VERB}\b[^.?!]{{0,80}}(?:\b|(?=[$€£])){_MONEY}",
    rf"\b(?:buy|purchase|post|mail|gift|read\s+(?:\w+\s+)?back|support|accept|get|pick\s+up)\w*\b[^.?!]{{0,60}}"
    rf"\b{_INSTRUMENT}\b",
    rf"\b{_MONEY}\b[^.?!]{{0,40}}\b(?:welcome|accepted|wanted|needed|appreciated|please|at|to|via)\b[^.?!]{{0,40}}"
    r"(?:@|\$|https?://|\.com|\.me|\d{3,})",
    r"\b(?:needs?|wants?)\s+(?:your\s+)?(?:money|cash|funds|donations?|support)\b",
    r"\b(?:become\s+a\s+(?:patron|member|supporter)|join\s+my\s+(?:patreon|ko-?fi))\b",
    r"\b(?:monthly|one-off|small)\s+(?:contribution|donation|tip|payment|pledge)s?\b",
    # asking for credentials or personal data
    rf"\b(?:ask|request|collect|send|share|give|tell|dm|message|text|email|e-mail|reply\s+with|read|forward|provide|enter|"
    rf"verify|confirm|post|note|need|type|submit|hand|pass|store)\w*\b[^.?!]{{0,60}}\b{_WHOSE}\s+(?:(?!(?:to|my|our|me|us|for|with)\b)[\w-]+,?\s+(?:and\s+)?){{0,3}}"
    rf"{_PRIVATE}\b",
    rf"\b(?:ask|request|collect)\w*\b[^.?!]{{0,40}}\b(?:for|about)\s+(?:the\s+|a\s+|any\s+)?(?:(?!(?:to|my|our|me|us)\b)[\w-]+\s+){{0,2}}"
    rf"{_PRIVATE}\b",
    r"\b(?:the\s+)?(?:six-digit|\d-digit|sms|verification|one-time|login|security)\s+codes?\s+(?:we|they|i)\s+"
    r"(?:just\s+)?(?:sent|texted|emailed)\b",
    r"\b(?:code|codes|numbers)\s+(?:we|they|i)\s+(?:just\s+)?(?:sent|texted)\b",
    rf"\benter\s+{_WHOSE}\s+(?:card|bank|login|payment)\b",
)
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>()\]\"']+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|me|org|net|app|io|example)/\S*", re.I
)
# A link whose address says it takes money (allowed only from the persona card).
_PAY_LINK = re.compile(
    r"paypal|ko-?fi|patreon|buymeacoffee|gofundme|venmo|cash\.app|revolut|tipeee|liberapay|streamlabs|donat|"
    r"/pay\b|/tip\b|/support\b|/shop\b|/store\b|/checkout\b|/claim\b|/win\b|/free\b|/prize\b|/reward\b",
    re.I,
)


def _norm(url: str) -> str:
    return re.sub(r"^(?:https?://)?(?:www\.)?", "", url.strip().rstrip(".,;:!?)'\"").lower()).rstrip("/")


def _links_allowed(sentence: str, allowed: Iterable[str]) -> bool:
    """True when the sentence carries at least one link and every one of them is in ``allowed``."""
    allowed = {_norm(u) for u in allowed if u}
    urls = [_norm(u) for u in _URL.findall(sentence)]
    return bool(urls) and all(u in allowed for u in urls)


def _without_allowed(text: str, allowed: Iterable[str]) -> str:
    allowed = {_norm(u) for u in allowed if u}
    return _URL.sub(lambda m: " " if _norm(m.group(0)) in allowed else m.group(0), text) if allowed else text


def is_instruction(sentence: str) -> bool:
    """True when the sentence speaks to whoever answers fans, or says what the replies must say."""
    if _REPLY_RULE.search(sentence):
        return True
    if _WHEN_ASKED.search(sentence) and not _I_ANSWER.search(sentence):
        return True
    for m in _ADDRESSEE.finditer(sentence):
        if _DIRECTIVE.search(sentence[: m.end() + _REACH], m.end()):
            return True
        # Spoken to directly ("Note to the bot: ...", "GPT, ..."): whatever follows is for it.
        vocative = _VOCATIVE.match(sentence, m.end())
        if vocative and (m.start() <= 3 or vocative.group(0).endswith(":")):
            return True
    return False


def solicitation(text: str, allowed_links: Iterable[str] = ()) -> str | None:
    """The part of ``text`` that asks fans for money, codes or personal data, or a payment link; else None.

    Links in ``allowed_links`` (the creator's own, from the persona card) do not count.
    """
    allowed = list(allowed_links)
    if allowed and _links_allowed(text, allowed):
        return None
    text = _without_allowed(text, allowed)
    match = _SOLICIT.search(text)
    if match:
        return match.group(0).strip()
    link = next((u for u in _URL.findall(text) if _PAY_LINK.search(u)), None)
    return link


def secrets(text: str) -> list[str]:
    """The strings ``text`` marks as secret: passwords, PINs, access codes, keys, codes marked private."""
    found = [m.group("value") for pattern in _SECRET for m in pattern.finditer(text)]
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        if _MARKED.search(sentence):
            found += [m.group("value") for m in _CODE.finditer(sentence)]
    return list(dict.fromkeys(v.strip("\"'‘’“”.,;:") for v in found if len(v.strip("\"'‘’“”.,;:")) >= 4))


def planted(sentence: str, allowed_links: Iterable[str] = ()) -> str | None:
    """Why a sentence of content must not reach a backend (``instruction``, ``solicitation``, ``secret``), or None."""
    if is_instruction(sentence):
        return "instruction"
    if solicitation(sentence, allowed_links):
        return "solicitation"
    if secrets(sentence):
        return "secret"
    return None
