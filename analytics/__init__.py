"""Analytics over the events: sessions, channels, attribution, funnels, leads."""
