"""The image path at run time, in the order a photo takes it: :mod:`.images` (decode
and encode), :mod:`.face` (find faces and their landmarks), :mod:`.framing` (level and
crop a portrait), :mod:`.policy` (what to stylize in a group), :mod:`.generator` (the
compiled anime network), :mod:`.styles` (the guest's choice of networks),
:mod:`.upsample` (the full-resolution result), :mod:`.pipeline` (all of it for one
photo) and :mod:`.mirror` (the live stylized preview)."""
