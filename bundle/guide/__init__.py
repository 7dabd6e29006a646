"""The operator guide: strict rendering (render.py), where outputs come from (outputs.py), its code blocks (blocks.py)."""
