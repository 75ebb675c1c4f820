"""Reports: what the monthly, quarterly and unit reports say (content), the Word report's body, the
publication package, and the Papermill runner. May import every layer below (analysis, count, load, store,
present, root); never the notebooks' helpers nor cli."""
