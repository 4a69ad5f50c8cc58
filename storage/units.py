"""Items that are one article: the unit the cluster stage groups and the desk splits off together.

A feed entry and a post pointing to the same page (or two feeds carrying one URL) are one story
before any clustering. The cluster stage and the desk's "Split off" both group items by this one
rule, so what an editor splits off is exactly what the next cluster run keeps apart. An editor's
"Merge" joins items across units (`joined_items`), and the cluster stage keeps those together.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Item, ItemJoin, ItemLink, ItemSeparation


def article_units(items: Sequence[tuple[int, int | None]], links: Mapping[int, Iterable[int]]) -> list[list[int]]:
    """Item ids joined by a shared article (their own, or one they link to), each unit sorted by id.

    `items` are (item id, article id or None); `links` maps an item id to the articles it points to.
    Units come in the order of their first item in `items`, so callers keep their order.
    """
    articles_of: dict[int, list[int]] = {}
    items_of: dict[int, list[int]] = {}
    for item_id, article_id in items:
        arts = ([article_id] if article_id else []) + list(links.get(item_id, ()))
        articles_of[item_id] = arts
        for aid in arts:
            items_of.setdefault(aid, []).append(item_id)
    seen: set[int] = set()
    units: list[list[int]] = []
    for item_id, _ in items:
        if item_id in seen:
            continue
        seen.add(item_id)
        unit, todo = [], [item_id]
        while todo:  # item -> its articles -> their other items, each article walked once
            current = todo.pop()
            unit.append(current)
            for aid in articles_of[current]:
                for other in items_of.pop(aid, ()):
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
        units.append(sorted(unit))
    return units


def item_links(session: Session, item_ids: Sequence[int]) -> dict[int, list[int]]:
    """item id -> the articles it points to (item_links rows), for `article_units`."""
    links: dict[int, list[int]] = {}
    if item_ids:
        for iid, aid in session.execute(select(ItemLink.item_id, ItemLink.article_id).where(ItemLink.item_id.in_(list(item_ids)))):
            links.setdefault(iid, []).append(aid)
    return links


def units_of(session: Session, items: Sequence[Item]) -> list[list[int]]:
    """`article_units` for loaded items, reading their links."""
    return article_units([(it.id, it.article_id) for it in items], item_links(session, [it.id for it in items]))


def separated_items(session: Session, day: str) -> set[int]:
    """The day's items an editor split off into stories of their own (the cluster stage keeps them apart)."""
    return set(session.scalars(select(ItemSeparation.item_id).where(ItemSeparation.day == day)))


def joined_items(session: Session, day: str) -> dict[int, int]:
    """The day's items an editor merged into one story: item id -> its group (the cluster stage joins a group)."""
    return {item_id: group for item_id, group in session.execute(
        select(ItemJoin.item_id, ItemJoin.group_id).where(ItemJoin.day == day))}
