"""Ignite 3's SQL types as text: what ``Ignite3Client.schema`` gives for each column."""

from __future__ import annotations


def type_text(type_name: str, nullable: bool, scale: int, precision: int) -> str:
    """``"VARCHAR(20)"``, ``"DECIMAL(10, 2)"``, ``"TIMESTAMP(6)"``...; ``" NULL"`` after a column that allows it."""
    if type_name == "DECIMAL":
        text = f"DECIMAL({precision}, {scale})"
    elif type_name in ("VARCHAR", "VARBINARY") and precision > 0:
        text = f"{type_name}({precision})"
    elif type_name.startswith(("TIME", "TIMESTAMP")) and precision >= 0:
        text = (
            type_name.replace("TIMESTAMP", f"TIMESTAMP({precision})", 1)
            if "TIMESTAMP" in type_name
            else f"TIME({precision})"
        )
    else:
        text = type_name
    return f"{text} NULL" if nullable else text
