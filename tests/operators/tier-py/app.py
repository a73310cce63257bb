"""Version 2 of the `tier` SQL function (tests/operators/tier-v2) in
Python: `"<user>:gold"` from 100 on, `"<user>:silver"` from 50, else
`"<user>:bronze"`."""
import weir


@weir.scalar
def tier(amount: float, user: str) -> str:
    if amount >= 100:
        t = "gold"
    elif amount >= 50:
        t = "silver"
    else:
        t = "bronze"
    return f"{user}:{t}"
