"""Presenting: HTML pieces, charts, pictures, the Decree 30 document and the public page — frames in,
documents out. Imports the root modules only: it is handed figures and never queries the store."""
