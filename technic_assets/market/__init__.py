"""Market-data providers: one interface, several sources (see `base.MarketDataProvider`)."""
