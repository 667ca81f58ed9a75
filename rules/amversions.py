"""What each Alertmanager version accepts in alertmanager.yml: receiver types, secret fields and
their ``*_file`` forms, newer top-level, receiver and route keys.

Taken from Alertmanager's own source (``config.Receiver``, ``config.GlobalConfig`` and each
notifier's config struct: the fields of type Secret/SecretURL and their ``*_file`` twins) at the
tags v0.25.0 ... v0.34.0. A version newer than the last one listed gets everything listed.
"""

from __future__ import annotations

Version = tuple[int, int]

OLDEST: Version = (0, 25)

# receiver type -> first version with it
RECEIVERS: dict[str, Version] = {
    "discord_configs": (0, 25),
    "email_configs": (0, 25),
    "opsgenie_configs": (0, 25),
    "pagerduty_configs": (0, 25),
    "pushover_configs": (0, 25),
    "slack_configs": (0, 25),
    "sns_configs": (0, 25),
    "telegram_configs": (0, 25),
    "victorops_configs": (0, 25),
    "webex_configs": (0, 25),
    "webhook_configs": (0, 25),
    "wechat_configs": (0, 25),
    "msteams_configs": (0, 26),
    "jira_configs": (0, 28),
    "msteamsv2_configs": (0, 28),
    "rocketchat_configs": (0, 28),
    "incidentio_configs": (0, 29),
    "mattermost_configs": (0, 30),
}

# keys newer than 0.25 at the top level, in a receiver, in a route
TOP_KEYS_SINCE: dict[str, Version] = {"tracing": (0, 30), "event_recorder": (0, 33)}
RECEIVER_KEYS_SINCE: dict[str, Version] = {"labels": (0, 33)}
ROUTE_KEYS_SINCE: dict[str, Version] = {"labels": (0, 34)}

# place -> secret field -> (the key that reads it from a file ("" when there is none), first
# version with that key). Places are ``global``, the receiver types, and the HTTP client parts
# every notifier has (http_config and what nests in it) plus SNS' sigv4.
SECRETS: dict[str, dict[str, tuple[str, Version]]] = {
    "global": {
        "slack_api_url": ("slack_api_url_file", (0, 25)),
        "slack_app_token": ("slack_app_token_file", (0, 30)),
        "smtp_auth_password": ("smtp_auth_password_file", (0, 25)),
        "smtp_auth_secret": ("smtp_auth_secret_file", (0, 31)),
        "opsgenie_api_key": ("opsgenie_api_key_file", (0, 25)),
        "victorops_api_key": ("victorops_api_key_file", (0, 25)),
        "wechat_api_secret": ("wechat_api_secret_file", (0, 31)),
        "telegram_bot_token": ("telegram_bot_token_file", (0, 31)),
        "rocketchat_token": ("rocketchat_token_file", (0, 28)),
        "rocketchat_token_id": ("rocketchat_token_id_file", (0, 28)),
        "mattermost_webhook_url": ("mattermost_webhook_url_file", (0, 32)),
    },
    "discord_configs": {"webhook_url": ("webhook_url_file", (0, 27))},
    "email_configs": {
        "auth_password": ("auth_password_file", (0, 25)),
        "auth_secret": ("auth_secret_file", (0, 31)),
    },
    "incidentio_configs": {"alert_source_token": ("alert_source_token_file", (0, 29))},
    "mattermost_configs": {"webhook_url": ("webhook_url_file", (0, 30))},
    "msteams_configs": {"webhook_url": ("webhook_url_file", (0, 27))},
    "msteamsv2_configs": {"webhook_url": ("webhook_url_file", (0, 28))},
    "opsgenie_configs": {"api_key": ("api_key_file", (0, 25))},
    "pagerduty_configs": {
        "routing_key": ("routing_key_file", (0, 25)),
        "service_key": ("service_key_file", (0, 25)),
    },
    "pushover_configs": {"user_key": ("user_key_file", (0, 26)), "token": ("token_file", (0, 26))},
    "rocketchat_configs": {"token": ("token_file", (0, 28)), "token_id": ("token_id_file", (0, 28))},
    "slack_configs": {"api_url": ("api_url_file", (0, 25)), "app_token": ("app_token_file", (0, 30))},
    "telegram_configs": {"bot_token": ("bot_token_file", (0, 26))},
    "victorops_configs": {"api_key": ("api_key_file", (0, 25))},
    "webhook_configs": {"url": ("url_file", (0, 26))},
    "wechat_configs": {"api_secret": ("api_secret_file", (0, 31))},
    "http_config": {"bearer_token": ("bearer_token_file", (0, 25))},
    "basic_auth": {"password": ("password_file", (0, 25))},
    "authorization": {"credentials": ("credentials_file", (0, 25))},
    "oauth2": {"client_secret": ("client_secret_file", (0, 25))},
    "sigv4": {"secret_key": ("", (0, 25))},
}
NESTED = ("http_config", "basic_auth", "authorization", "oauth2", "sigv4")

# A webhook URL is not always a secret (an internal relay's URL is not): inline values stay
# allowed there; ``${ENV}`` moves it to url_file where the version has one.
INLINE_OK = {("webhook_configs", "url")}

# other *_file keys (not secrets) and when they came
OTHER_FILE_KEYS: dict[tuple[str, str], Version] = {
    ("telegram_configs", "chat_id_file"): (0, 31),
    ("incidentio_configs", "url_file"): (0, 29),
}


def fmt(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


def file_key_since() -> dict[tuple[str, str], Version]:
    """(place, *_file key) -> first version with it."""
    out = dict(OTHER_FILE_KEYS)
    for place, fields in SECRETS.items():
        for file_key, since in fields.values():
            if file_key:
                out[(place, file_key)] = since
    return out


def receivers(version: Version) -> list[str]:
    return [k for k, since in RECEIVERS.items() if version >= since]


def secret_table(place: str, version: Version) -> dict[str, str]:
    """Secret field -> its *_file key in ``version`` ("" when that version has none) for one place.
    A webhook URL is a secret field only from 0.26 (before, Alertmanager keeps it as a plain URL)."""
    out = {}
    for key, (file_key, since) in SECRETS.get(place, {}).items():
        if (place, key) in INLINE_OK and version < since:
            continue
        out[key] = file_key if version >= since else ""
    return out
