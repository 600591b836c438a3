"""A real SMTP server for torii-notify's e-mail tests (aiosmtpd).

Listens on 127.0.0.1 on a free port, prints "PORT <n>" once ready, and writes every message it
accepts to --dir as NNNN.json: the envelope, the AUTH login, and the headers and text body as
Python's email package parses them.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, directory, fail_first):
        self.directory = directory
        self.fail_first = fail_first
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_first > 0:
            self.fail_first -= 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "login": session.auth_data if isinstance(session.auth_data, str) else None,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "contentType": message.get_content_type(),
            "mimeVersion": message.get("MIME-Version"),
            "messageIds": [str(v) for v in message.get_all("Message-ID", [])],
            "body": body.get_content().replace("\r\n", "\n") if body is not None else "",
        }
        self.count += 1
        path = os.path.join(self.directory, "%04d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticator_for(login, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == login
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    return authenticate


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--tls", choices=["none", "starttls", "tls"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    handler = Handler(args.dir, args.fail_first)

    def factory():
        options = {}
        if args.tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        if args.auth:
            login, password = args.auth.split(":", 1)
            options.update(
                authenticator=authenticator_for(login, password),
                auth_required=True,
                auth_require_tls=args.tls != "none",
            )
        return SMTP(handler, hostname="smtp.test", **options)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, "127.0.0.1", 0, ssl=context if args.tls == "tls" else None
    )
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
