"""Built-in plugin ``dataset_mix``: several datasets in one run (``--dataset.mix``).

``--dataset.mix=[DIR_OR_REPO_ID,...]`` adds datasets to the run's own (``--dataset.repo_id`` /
``--dataset.root``, the primary); ``--dataset.mix_weights=[w0,w1,...]`` sets each one's share of
the samples. Each dataset is loaded by upstream's own ``make_train_eval_datasets`` with the run's
``--dataset.*`` options, gets every plugin's changes planned from its own metadata, and must then
agree with the primary (:mod:`.agreement`). Items come from their own dataset, so time windows and
episode ends hold per dataset (:mod:`.mixed_dataset`); a dataset stored in another layout is
mapped into the primary's (:mod:`.item_layout`); statistics are those of every frame together
(:mod:`.statistics`); the sampler draws each dataset's share and resumes by position
(:mod:`.sampler`).
"""
