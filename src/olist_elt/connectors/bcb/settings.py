"""Constants of the Banco Central (SGS) connector."""

SOURCE = "bcb"
SCHEMA_VERSION = "bcb-sgs-json-v1"
# code -> (dataset, periodicity)
SERIES = {
    433: ("ipca", "monthly"),  # IPCA, % per month
    432: ("selic_target", "daily"),  # Selic target (Meta Selic), % per year
    11: ("selic_daily", "daily"),  # Selic effective, % per day
}
# The API answers HTTP 406 for daily series asked for more than 10 years at once.
MAX_DAILY_WINDOW_DAYS = 3650
