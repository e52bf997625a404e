"""newscrawl: a Scrapy news crawler that writes clean article JSON Lines."""

__version__ = "0.1.0"
