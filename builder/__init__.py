"""BioSim, the BioHuman10M build, and the application layer around the model.

The stages, in the order data flows through them (each a sub-package with its own command module)::

    sources/          motion files of any supported format -> SMPL MotionSequence   (biohuman sources)
    body/             SMPL motion -> body surface (Anny or SMPL) -> virtual markers
    musculoskeletal/  the ULBS-112 OpenSim model (112 muscles), generated and cached  (biohuman model)
    biosim/           scale + IK, GRF -> ID -> SO -> filter/smooth       (biohuman kinematics, dynamics)
    render/           video, person boxes and camera per sequence            (biohuman render, preview)
    dataset/          windows -> WebDataset + Parquet shards + card -> Hub   (biohuman dataset)

The application layer, using the model (``modeling_biohuman``)::

    training/         Accelerate training, packaged configs, model cards      (biohuman train)
    evaluation/       the paper's protocol, metrics, reports                  (biohuman evaluate)
    prediction/       a trained model on a user's video, exports              (biohuman predict)
    main_job.py       everything above on the embedded default data           (biohuman main)
    cli.py            the ``biohuman`` command, one error contract and option vocabulary

Shared by the stages: ``layout`` (file names of a sequence folder), ``markers`` (the 87 landmarks),
``trc`` (OpenSim marker files), ``video`` (H.264 files), ``io`` (atomic writes),
``vocabulary_command`` (biohuman vocab). Dependencies flow one way: ``biohuman10m`` <-
``modeling_biohuman`` <- ``builder`` (tests/cli/test_architecture.py).
"""
