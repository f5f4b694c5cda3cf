"""ERP adapters: the typed interface and the plugins that implement it."""
