"""The reply parser on the shapes real mail clients send: where the answer is, and for whom."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from notify.replies import parse_command, read_reply

REPLY_TO = "approvals@example.test"
TOKEN = "abcdefghijklmnopqrstuvwxyz234567"
ADDRESS = f"approvals+{TOKEN}@example.test"
QUOTE = "Rita Requester asked for your approval.\nReply APPROVE or REJECT <reason>.\n"


def mail(text: str | None = None, html: str | None = None, **headers: str) -> bytes:
    """A raw e-mail with these bodies; header names with _ for - (Auto_Submitted)."""
    message = EmailMessage()
    message["From"] = "Alice Lead <alice@acme.test>"
    message["To"] = ADDRESS
    message["Subject"] = "Re: Approval needed: Laptop"
    message["Message-ID"] = "<reply-1@mail.acme.test>"
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return bytes(message)


# ---- parse_command: the first line above the quote ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("APPROVE", ("approve", None)),
        ("Approved.", ("approve", None)),
        ("approved!", ("approve", None)),
        ("APPROVE: fine by me", ("approve", "fine by me")),
        ("Approve - within budget", ("approve", "within budget")),
        ("approve, thanks", ("approve", "thanks")),
        ("yes", ("approve", None)),
        ("OK.", ("approve", None)),
        ("Accepted", ("approve", None)),
        ("reject too expensive", ("reject", "too expensive")),
        ("Rejected: no budget left", ("reject", "no budget left")),
        ("DECLINE. Buy the cheaper one", ("reject", "Buy the cheaper one")),
        ("No, not this quarter", ("reject", "not this quarter")),
        ("denied", ("reject", None)),
    ],
)
def test_command_words_in_any_case_with_punctuation(
    text: str, expected: tuple[str | None, str | None]
) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "Looks good to me\nAPPROVE",  # the command must be the first word of the first line
        "Hello Signoff,\n\nAPPROVE",
        "Nothing to add",  # a word that starts like "no" is not "no"
        "Approves",
        "Okay then",
        "> APPROVE\n> looks good",  # only quoted text
        "On Tue, 24 Nov 2026 at 17:00, Signoff <signoff@signoff.test> wrote:\n> APPROVE",
    ],
)
def test_no_command_without_one_on_the_first_line(text: str) -> None:
    assert parse_command(text) == (None, None)


def test_leading_blank_lines_are_skipped() -> None:
    assert parse_command("\n\n   \n  APPROVE looks good  \n\n> quoted") == ("approve", "looks good")


def test_the_rest_of_the_first_paragraph_is_the_comment() -> None:
    text = "REJECT over budget\nplease ask again in January\n\nthanks, Alice\n\n> " + QUOTE
    assert parse_command(text) == ("reject", "over budget please ask again in January")


def test_the_comment_keeps_its_own_punctuation() -> None:
    assert parse_command("REJECT: see the travel policy, section 4.2.") == (
        "reject",
        "see the travel policy, section 4.2.",
    )


def test_gmail_quote_below_a_blank_line() -> None:
    text = (
        "APPROVE looks good\n\n"
        "On Tue, 24 Nov 2026 at 17:00, Signoff <signoff@signoff.test> wrote:\n\n"
        "> Rita Requester asked for your approval.\n> REJECT <reason> to refuse.\n"
    )
    assert parse_command(text) == ("approve", "looks good")


def test_gmail_quote_right_below_the_answer() -> None:
    text = "approve looks good\nOn Tue, 24 Nov 2026 at 17:00, Signoff wrote:\n> REJECT\n"
    assert parse_command(text) == ("approve", "looks good")


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "________________________________",
        "From: Signoff <signoff@signoff.test>",
    ],
)
def test_outlook_quote_headers_end_the_answer(separator: str) -> None:
    text = f"REJECT too expensive\r\n{separator}\r\nSent: Tuesday\r\nTo: Alice\r\n\r\n{QUOTE}"
    assert parse_command(text.replace("\r\n", "\n")) == ("reject", "too expensive")


def test_signature_below_a_blank_line_is_not_the_comment() -> None:
    assert parse_command("Approved.\n\n-- \nAlice Lead\nTeam lead, Acme") == ("approve", None)
    assert parse_command("APPROVE\nSent from my iPhone") == ("approve", None)


def test_signature_separator_right_below_the_command_ends_the_answer() -> None:
    assert parse_command("APPROVE looks good\n-- \nAlice Lead") == ("approve", "looks good")


# ---- read_reply: the whole mail ----


def test_plain_text_reply_with_token_in_to() -> None:
    reply = read_reply(mail("APPROVE looks good\n\n> " + QUOTE), REPLY_TO)
    assert reply.token == TOKEN
    assert reply.sender == "alice@acme.test"
    assert (reply.command, reply.comment) == ("approve", "looks good")
    assert reply.message_id == "<reply-1@mail.acme.test>"
    assert reply.automatic is False


def test_plain_text_is_preferred_over_html() -> None:
    raw = mail("REJECT over budget", html="<p>APPROVE</p>")
    assert read_reply(raw, REPLY_TO).command == "reject"


@pytest.mark.parametrize(
    "headers",
    [
        {"To": "someone@acme.test", "Cc": f"Approvals <{ADDRESS}>"},
        {"To": "approvals@example.test", "Delivered_To": ADDRESS},
        {"To": "undisclosed-recipients:;", "X_Original_To": ADDRESS},
        {"To": f"bob@acme.test, {ADDRESS.upper()}"},
        {"To": f'"Signoff approvals" <Approvals+{TOKEN.upper()}@Example.TEST>'},
    ],
)
def test_token_found_in_cc_delivered_to_and_in_any_case(headers: dict[str, str]) -> None:
    assert read_reply(mail("APPROVE", **headers), REPLY_TO).token == TOKEN


@pytest.mark.parametrize(
    "to",
    [
        "approvals@example.test",  # no token
        f"approvals+{TOKEN}@other.test",  # another domain
        f"helpdesk+{TOKEN}@example.test",  # another mailbox
        f"approvals+{TOKEN[:-1]}@example.test",  # not a token's length
    ],
)
def test_no_token_from_other_addresses(to: str) -> None:
    assert read_reply(mail("APPROVE", To=to), REPLY_TO).token is None


def test_sender_address_is_lower_cased() -> None:
    reply = read_reply(mail("APPROVE", From='"Lead, Alice" <Alice@ACME.Test>'), REPLY_TO)
    assert reply.sender == "alice@acme.test"


@pytest.mark.parametrize(
    ("headers", "automatic"),
    [
        ({"Auto_Submitted": "auto-replied"}, True),
        ({"Auto_Submitted": "auto-generated"}, True),
        ({"Auto_Submitted": "no"}, False),
        ({"X_Autoreply": "yes"}, True),
        ({}, False),
    ],
)
def test_automatic_replies_are_recognised(headers: dict[str, str], automatic: bool) -> None:
    assert read_reply(mail("I am out of the office", **headers), REPLY_TO).automatic is automatic


GMAIL_HTML = (
    '<div dir="ltr">APPROVE looks good</div><br><div class="gmail_quote">'
    '<div dir="ltr" class="gmail_attr">On Tue, Nov 24, 2026 at 5:00 PM Signoff &lt;'
    '<a href="mailto:signoff@signoff.test">signoff@signoff.test</a>&gt; wrote:<br></div>'
    '<blockquote class="gmail_quote">Rita asked for your approval.<br>REJECT to refuse.'
    "</blockquote></div>"
)
OUTLOOK_HTML = (
    '<html><head><meta name="Generator" content="Microsoft Word 15 (filtered medium)">'
    "<style><!--\n/* Font Definitions */\np.MsoNormal\n\t{margin:0cm;}\n--></style></head>"
    '<body lang="EN-US"><div class="WordSection1">'
    '<p class="MsoNormal">Rejected &#8211; over budget<o:p></o:p></p>'
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
    '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal"><b>From:</b> '
    "Signoff &lt;signoff@signoff.test&gt;<br><b>Sent:</b> Tuesday<br></p></div>"
    "<p>APPROVE</p></div></body></html>"
)
OUTLOOK_WEB_HTML = """<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>
</head>
<body dir="ltr">
<div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;">
APPROVE looks good</div>
<hr style="display:inline-block;width:98%" tabindex="-1">
<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Signoff &lt;signoff@signoff.test&gt;<br>
<b>Sent:</b> Tuesday, November 24, 2026 5:00 PM</div>
</body>
</html>
"""


def test_html_only_gmail_reply() -> None:
    reply = read_reply(mail(html=GMAIL_HTML), REPLY_TO)
    assert (reply.command, reply.comment) == ("approve", "looks good")


def test_html_only_outlook_reply() -> None:
    reply = read_reply(mail(html=OUTLOOK_HTML), REPLY_TO)
    assert reply.command == "reject"
    assert reply.comment == "\u2013 over budget"


def test_html_only_outlook_web_reply_with_a_style_element() -> None:
    reply = read_reply(mail(html=OUTLOOK_WEB_HTML), REPLY_TO)
    assert (reply.command, reply.comment) == ("approve", "looks good")


def test_html_reply_with_a_non_breaking_space_after_the_command() -> None:
    # What an HTML editor makes of two spaces typed after the word.
    reply = read_reply(mail(html="<div>APPROVE&nbsp; looks good</div>"), REPLY_TO)
    assert (reply.command, reply.comment) == ("approve", "looks good")
