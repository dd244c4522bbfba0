"""newscrawl's item pipelines, one concern each, in the order settings.ITEM_PIPELINES runs them:
validate → normalise → dedupe → store → export. See docs/pipelines.md.
"""
