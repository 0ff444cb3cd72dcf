"""Streamlit pages. Thin: they call services and never talk to the database directly."""
